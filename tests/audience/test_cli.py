"""``siyu audience save|list|show|refresh|export|index|count|delete`` end to end (in-process
CLI, real workspace)."""

from __future__ import annotations

import json

import pytest

from siyu.ops.audit import entries
from siyu.workspace import Workspace
from tests.audience.conftest import make_ws

AS_OF = "2025-03-31"


@pytest.fixture
def home(tmp_path):
    w = make_ws(tmp_path)
    w.close()
    return w.home


def test_the_whole_flow(cli, home, tmp_path):
    h = ("--home", home)
    got = cli.json("audience", "save", "高潜", "tier >= 3 and not tag('vip')", *h)
    assert got == {"name": "高潜", "expr": 'tier >= 3 and not tag("vip")', "created": True,
                   "note": None}
    cli("audience", "save", "上海高潜", 'in_audience("高潜") and city = "上海"', *h)
    r = cli.json("audience", "refresh", "--as-of", AS_OF, *h)
    assert [(a["audience"], a["members"], a["entered"], a["left"]) for a in r["audiences"]] == [
        ("高潜", 9, 9, 0), ("上海高潜", 1, 1, 0)]  # tier >= 3 less u12 (vip); u3 in 上海
    assert r["as_of"] == AS_OF and r["index"] is False  # no index yet

    listed = cli.json("audience", "list", *h)["audiences"]
    assert [(a["name"], a["last_refresh"]["members"]) for a in listed] == [
        ("上海高潜", 1), ("高潜", 9)]
    shown = cli.json("audience", "show", "高潜", *h)
    assert shown["used_by"] == ["上海高潜"] and shown["uses"] == []
    assert "never refreshed" not in cli("audience", "show", "上海高潜", *h).stdout

    built = cli.json("audience", "index", "--as-of", AS_OF, *h)
    assert built["consumers"] == 16 and built["audiences"] == 2
    c = cli.json("audience", "count", "in_audience('高潜') and tier = 5", "--as-of", AS_OF, *h)
    assert set(c) == {"count", "ms"} and c["count"] == 2  # u6, u14
    ex = cli("audience", "count", "tier = 5 and orders(last 31d) >= 2", "--as-of", AS_OF,
             "--explain", *h).stdout  # a count compared with ≤ 3: from the recency bitmaps
    assert "warehouse" not in ex and "orders(last 31d) >= 2" in ex
    ex = cli("audience", "count", "tier = 5 and orders(last 31d) >= 4", "--as-of", AS_OF,
             "--explain", *h).stdout  # deeper than the index keeps: the warehouse counts
    assert "index" in ex and "warehouse" in ex and "orders(last 31d) >= 4" in ex

    out = tmp_path / "gq.csv"
    e = cli.json("audience", "export", "高潜", "--out", out, *h)
    assert e["rows"] == 9 and e["masked"] is True and out.exists()
    denied = cli("audience", "export", "高潜", "--out", tmp_path / "full.csv", "--unmasked",
                 *h, ok=False)
    assert denied.exit_code == 1 and "export_unmasked_allowed" in denied.stderr
    bad = cli("audience", "export", "高潜", "--out", tmp_path / "x.txt", *h, ok=False)
    assert bad.exit_code == 2

    refused = cli("audience", "delete", "高潜", *h, ok=False)
    assert refused.exit_code == 2 and "上海高潜" in refused.stderr
    cli("audience", "delete", "上海高潜", *h)
    assert [a["name"] for a in cli.json("audience", "list", *h)["audiences"]] == ["高潜"]
    with Workspace.open(home) as w:
        assert [x["action"] for x in entries(w.ops)] == ["export_denied", "export"]


def test_errors_are_one_line(cli, home):
    h = ("--home", home)
    r = cli("audience", "save", "x", 'in_audience("nope")', *h, ok=False)
    assert r.exit_code == 2 and "nope" in r.stderr
    r = cli("audience", "show", "nope", *h, ok=False)
    assert r.exit_code == 1 and "no saved audience" in r.stderr
    r = cli("audience", "refresh", "nope", *h, ok=False)
    assert r.exit_code == 1
    r = cli("audience", "save", "x", "tier >=", *h, ok=False)
    assert r.exit_code == 2
    empty = cli.json("audience", "refresh", *h)
    assert empty["audiences"] == [] and json.dumps(empty)
