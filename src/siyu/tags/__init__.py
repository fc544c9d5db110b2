"""Tags: manual, rule, model and text tags (issue 5)."""
