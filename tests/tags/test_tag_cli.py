"""``siyu tag eval``: the shipped set's figures through the CLI."""

from __future__ import annotations


def test_tag_eval_json(cli):
    got = cli.json("tag", "eval")
    assert got["messages"] >= 300 and isinstance(got["errors"], int)
    for name, m in got["scenarios"].items():
        assert m["precision"] >= 0.9 and m["recall"] >= 0.9, name
    assert set(got["splits"]) == {"dev", "holdout"}
    assert "anger" in cli("tag", "eval").stdout
