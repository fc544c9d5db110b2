"""Saved audiences: save / list / show / delete, references and cycles, refresh in dependency
order, and the exact enter/leave diff over three refreshes."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from siyu.audience.refresh import refresh
from siyu.audience.saved import AudienceNotFound, delete, get, list_saved, refresh_order, save
from siyu.errors import UsageError
from siyu.ops.tables import audience_refreshes
from tests.audience.conftest import make_ws, people, set_tags

AS_OF = date(2025, 3, 31)


@pytest.fixture
def sws(tmp_path):
    w = make_ws(tmp_path)
    yield w
    w.close()


def who(ws, sql: str, params=()) -> set[str]:
    person = {c: p for p, c in people(ws).items()}
    return {person[r[0]] for r in ws.warehouse.raw.execute(sql, list(params)).fetchall()}


def members(ws, name: str) -> set[str]:
    return who(ws, "SELECT consumer_id FROM audience_members WHERE audience = ?", [name])


def changes(ws, refresh_id: str, change: str) -> set[str]:
    return who(ws, "SELECT consumer_id FROM audience_changes WHERE refresh_id = ? AND change = ?",
               [refresh_id, change])


def test_save_list_show_delete(sws):
    got = save(sws, " 高潜 ", "tier>=3 且 非 rfm='沉睡客'", actor="cli:test")
    assert got == {"name": "高潜", "expr": 'tier >= 3 and not rfm = "dormant"', "created": True,
                   "note": None}
    save(sws, "vip", 'tag("vip")')
    rows = list_saved(sws)
    assert [r["name"] for r in rows] == ["vip", "高潜"]
    assert rows[1]["tree"] == {"and": [{"term": "tier", "op": ">=", "value": 3},
                                       {"not": {"term": "rfm", "op": "=", "value": "dormant"}}]}
    assert rows[1]["created_by"] == "cli:test" and rows[1]["last_refresh"] is None
    with pytest.raises(UsageError, match="already exists"):
        save(sws, "高潜", "tier >= 4")
    assert save(sws, "高潜", "tier >= 4", replace=True)["created"] is False
    assert get(sws, "高潜")["expr"] == "tier >= 4"
    assert delete(sws, "高潜") == {"name": "高潜", "deleted": True, "members_removed": 0}
    with pytest.raises(AudienceNotFound):
        get(sws, "高潜")
    with pytest.raises(AudienceNotFound):
        delete(sws, "高潜")


@pytest.mark.parametrize("name", ["", "   ", "a\nb", "x" * 129])
def test_bad_names_are_rejected(sws, name):
    with pytest.raises(UsageError, match="audience name"):
        save(sws, name, "tier >= 3")


def test_references_must_exist_and_not_cycle(sws):
    with pytest.raises(UsageError, match="not saved: nope"):
        save(sws, "a", 'in_audience("nope") or tier = 1')
    with pytest.raises(UsageError, match="cycle: a → a"):
        save(sws, "a", 'in_audience("a")')
    save(sws, "a", 'tag("vip")')
    save(sws, "b", 'in_audience("a") and tier >= 1')
    save(sws, "c", 'in_audience("b") or city = "上海"')
    with pytest.raises(UsageError, match="cycle: a → c → b → a"):
        save(sws, "a", 'in_audience("c")', replace=True)
    assert get(sws, "a")["expr"] == 'tag("vip")'  # unchanged
    assert get(sws, "b")["uses"] == ["a"] and get(sws, "b")["used_by"] == ["c"]
    with pytest.raises(UsageError, match="used by b"):
        delete(sws, "a")


def test_dependency_order(sws):
    save(sws, "z_base", 'tag("vip")')
    save(sws, "m_mid", 'in_audience("z_base") or tier = 5')
    save(sws, "a_top", 'in_audience("m_mid") and not in_audience("z_base")')
    save(sws, "other", "tier = 0")
    assert [n for n, _ in refresh_order(sws)] == ["z_base", "m_mid", "a_top", "other"]
    assert [n for n, _ in refresh_order(sws, "a_top")] == ["z_base", "m_mid", "a_top"]
    assert [n for n, _ in refresh_order(sws, "z_base")] == ["z_base"]
    # refreshing the top one refreshes what it uses first, so it sees their new members
    got = refresh(sws, "a_top", AS_OF)
    assert [r["audience"] for r in got["audiences"]] == ["z_base", "m_mid", "a_top"]
    assert members(sws, "z_base") == {"u9", "u12"}
    tier5 = {"u6", "u14"}  # tier 5 at the end of March (tests/models/test_tiers.py)
    assert members(sws, "m_mid") == {"u9", "u12"} | tier5
    assert members(sws, "a_top") == tier5
    assert members(sws, "other") == set()  # not refreshed


def test_three_refreshes_give_exact_diffs(sws):
    save(sws, "vip", 'tag("vip")')
    save(sws, "vip_buyers", 'in_audience("vip") and orders(last 30d) >= 1')

    set_tags(sws, [("u1", "vip", None), ("u2", "vip", None), ("u3", "vip", "金")])
    r1 = refresh(sws, None, AS_OF)["audiences"]
    assert [(r["audience"], r["members"], r["entered"], r["left"]) for r in r1] == [
        ("vip", 3, 3, 0), ("vip_buyers", 1, 1, 0)]
    assert changes(sws, r1[0]["refresh_id"], "enter") == {"u1", "u2", "u3"}
    assert changes(sws, r1[1]["refresh_id"], "enter") == {"u3"}

    set_tags(sws, [("u2", "vip", None), ("u3", "vip", None), ("u4", "vip", None)])
    r2 = refresh(sws, None, AS_OF)["audiences"]
    assert [(r["members"], r["entered"], r["left"]) for r in r2] == [(3, 1, 1), (2, 1, 0)]
    assert changes(sws, r2[0]["refresh_id"], "enter") == {"u4"}
    assert changes(sws, r2[0]["refresh_id"], "leave") == {"u1"}
    assert changes(sws, r2[1]["refresh_id"], "enter") == {"u4"}

    set_tags(sws, [("u4", "vip", None), ("u5", "vip", None)])
    r3 = refresh(sws, "vip", AS_OF)["audiences"]  # vip alone
    assert [(r["audience"], r["members"], r["entered"], r["left"]) for r in r3] == [
        ("vip", 2, 1, 2)]
    assert changes(sws, r3[0]["refresh_id"], "enter") == {"u5"}
    assert changes(sws, r3[0]["refresh_id"], "leave") == {"u2", "u3"}
    assert members(sws, "vip") == {"u4", "u5"}
    assert members(sws, "vip_buyers") == {"u3", "u4"}  # as of its own last refresh

    raw = sws.warehouse.raw
    assert raw.execute("SELECT count(*), count(DISTINCT refresh_id) FROM audience_changes"
                       ).fetchall() == [(3 + 1 + 2 + 1 + 3, 5)]
    typ = dict(raw.execute("SELECT column_name, data_type FROM information_schema.columns "
                           "WHERE table_name = 'audience_changes'").fetchall())
    assert typ == {"audience": "VARCHAR", "consumer_id": "VARCHAR", "change": "VARCHAR",
                   "refresh_id": "VARCHAR", "at": "TIMESTAMP"}
    with sws.ops.engine.connect() as c:
        rows = c.execute(select(audience_refreshes).where(audience_refreshes.c.audience == "vip")
                         .order_by(audience_refreshes.c.at)).all()
    assert [(r.members, r.entered, r.left, r.as_of) for r in rows] == [
        (3, 3, 0, AS_OF), (3, 1, 1, AS_OF), (2, 1, 2, AS_OF)]
    last = get(sws, "vip")["last_refresh"]
    assert last["refresh_id"] == r3[0]["refresh_id"] and last["members"] == 2


def test_refresh_follows_as_of(sws):
    save(sws, "t3", "tier = 3")
    first = refresh(sws, "t3", date(2025, 2, 28))["audiences"][0]
    assert (first["members"], first["entered"]) == (1, 1)  # u2 at the end of February
    second = refresh(sws, "t3", date(2025, 2, 15))["audiences"][0]
    assert (second["members"], second["entered"], second["left"]) == (0, 0, 1)
    assert changes(sws, second["refresh_id"], "leave") == {"u2"}


def test_delete_removes_members_keeps_history(sws):
    save(sws, "vip", 'tag("vip")')
    r = refresh(sws, "vip", AS_OF)["audiences"][0]
    assert delete(sws, "vip")["members_removed"] == 2
    assert members(sws, "vip") == set()
    assert changes(sws, r["refresh_id"], "enter") == {"u9", "u12"}
    assert list_saved(sws) == []


@pytest.fixture(scope="module")
def hws(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SIYU_LANG", "en")
        mp.setenv("SIYU_ID_SALT", "test-salt")
        w = make_ws(tmp_path_factory.mktemp("diffs"))
        save(w, "vip", 'tag("vip")')
        yield w
        w.close()


PEOPLE = [f"u{i}" for i in range(1, 17)]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rounds=st.lists(st.sets(st.sampled_from(PEOPLE)), min_size=1, max_size=3))
def test_each_refresh_records_exactly_the_difference(hws, rounds):
    for vip in rounds:
        before = members(hws, "vip")
        set_tags(hws, [(p, "vip", None) for p in sorted(vip)])
        [r] = refresh(hws, "vip", AS_OF)["audiences"]
        assert members(hws, "vip") == vip
        assert changes(hws, r["refresh_id"], "enter") == vip - before
        assert changes(hws, r["refresh_id"], "leave") == before - vip
        assert (r["members"], r["entered"], r["left"]) == (
            len(vip), len(vip - before), len(before - vip))
