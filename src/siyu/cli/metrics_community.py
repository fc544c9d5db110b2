"""`siyu metrics` commands of one family (placeholder until the family lands)."""
