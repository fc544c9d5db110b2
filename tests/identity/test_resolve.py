"""OneID on hand-built data (DOMAIN §3): exact consumers, ids, conflicts and history."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from siyu.config import load_settings
from siyu.errors import UsageError
from siyu.identity import resolve
from siyu.ops import identity_runs
from siyu.workspace import Workspace

from .helpers import add_keys, add_links, changes, cid, conflicts, day, groups, id_map

P1, P2, P3 = "phone:13800000001", "phone:13800000002", "phone:13800000003"


def test_chain_is_one_consumer(ws):
    add_keys(ws, {"unionid:a": 1, "openid:b": 2, "wecom:c": 3, "tmall:d": 4})
    add_links(ws, [("unionid:a", "openid:b", 5), ("openid:b", "wecom:c", 6),
                   ("tmall:d", "wecom:c", 7)])
    r = resolve(ws)
    assert groups(ws) == {frozenset({"unionid:a", "openid:b", "wecom:c", "tmall:d"})}
    assert set(id_map(ws).values()) == {cid("unionid:a")}
    assert (r.keys, r.consumers, r.links, r.multi_key_consumers, r.largest_component,
            r.conflicts) == (4, 1, 3, 1, 4, 0)


def test_separate_components_and_single_keys(ws):
    add_keys(ws, {"unionid:a": 1, "openid:b": 2, "unionid:x": 3, "openid:y": 4, "anon:z": 5})
    add_links(ws, [("unionid:a", "openid:b", 6), ("openid:y", "unionid:x", 6)])
    r = resolve(ws)
    assert groups(ws) == {frozenset({"unionid:a", "openid:b"}),
                          frozenset({"unionid:x", "openid:y"}), frozenset({"anon:z"})}
    m = id_map(ws)
    assert m["openid:b"] == cid("unionid:a")
    assert m["openid:y"] == cid("unionid:x")
    assert m["anon:z"] == cid("anon:z")
    assert (r.consumers, r.multi_key_consumers, r.largest_component) == (3, 2, 2)


def test_consumer_id_comes_from_oldest_key_then_key_order(ws):
    # the oldest key wins even when it sorts last
    add_keys(ws, {"wecom:z": 1, "anon:a": 5, "unionid:t1": 3, "openid:t2": 3})
    add_links(ws, [("anon:a", "wecom:z", 9), ("unionid:t1", "openid:t2", 9)])
    resolve(ws)
    m = id_map(ws)
    assert m["anon:a"] == cid("wecom:z")
    # same first_seen: key order decides ("openid:t2" < "unionid:t1")
    assert m["unionid:t1"] == cid("openid:t2")


def test_unknown_first_seen_sorts_last(ws):
    add_keys(ws, ["anon:a"])
    add_keys(ws, {"wecom:z": 10})
    add_links(ws, [("anon:a", "wecom:z", 11)])
    resolve(ws)
    assert id_map(ws)["anon:a"] == cid("wecom:z")


def test_first_seen_is_the_minimum_over_loads(ws):
    add_keys(ws, {"wecom:z": 10, "anon:a": 5}, load_id="L1")
    add_keys(ws, {"wecom:z": 1}, load_id="L2")
    add_links(ws, [("anon:a", "wecom:z", 11)])
    resolve(ws)
    assert id_map(ws)["anon:a"] == cid("wecom:z")
    fs = ws.warehouse.raw.execute(
        "SELECT first_seen FROM identity_map WHERE key = 'wecom:z'").fetchone()[0]
    assert fs == day(1)


def test_link_keys_missing_from_key_seen_and_self_links(ws):
    add_keys(ws, {"unionid:a": 1})
    add_links(ws, [("unionid:a", "openid:new", 2), ("openid:new", "openid:new", 2),
                   ("anon:alone", "anon:alone", 3)])
    r = resolve(ws)
    assert groups(ws) == {frozenset({"unionid:a", "openid:new"}), frozenset({"anon:alone"})}
    assert (r.keys, r.links) == (3, 3)


def test_no_data(ws):
    r = resolve(ws)
    assert (r.keys, r.consumers, r.links, r.conflicts) == (0, 0, 0, 0)
    assert id_map(ws) == {}


def test_two_phones_through_a_unionid_later_link_is_the_conflict(ws):
    add_keys(ws, {P1: 1, "unionid:u": 2, P2: 3})
    add_links(ws, [("unionid:u", P2, 20, "mini_program"), (P1, "unionid:u", 10, "wecom_bind")])
    r = resolve(ws)
    assert groups(ws) == {frozenset({P1, "unionid:u"}), frozenset({P2})}
    assert conflicts(ws) == [("unionid:u", P2, "mini_program", day(20), cid(P1), cid(P2),
                              "guard:phone")]
    assert r.conflicts == 1
    ex = r.conflict_examples[0]
    assert ex["key_b"] == "phone:138****0002" and ex["reason"] == "guard:phone"
    assert "13800000002" not in json.dumps(r.to_dict())


def test_guard_is_independent_of_link_direction_and_null_times_come_last(ws):
    add_keys(ws, {P1: 1, "unionid:u": 2, P2: 3})
    add_links(ws, [(P2, "unionid:u"), ("unionid:u", P1, 30)])  # the timed link is earlier
    resolve(ws)
    assert groups(ws) == {frozenset({P1, "unionid:u"}), frozenset({P2})}
    assert [c[:2] for c in conflicts(ws)] == [(P2, "unionid:u")]


def test_same_time_links_are_ordered_by_keys(ws):
    add_keys(ws, {P1: 1, "unionid:u": 2, P2: 3})
    add_links(ws, [(P2, "unionid:u", 5), (P1, "unionid:u", 5)])
    resolve(ws)
    # ("phone:…01", "unionid:u") sorts before ("phone:…02", "unionid:u") and wins
    assert groups(ws) == {frozenset({P1, "unionid:u"}), frozenset({P2})}


def test_member_guard(ws):
    add_keys(ws, {"member:M1": 1, "unionid:u": 2, "member:M2": 3, P1: 4})
    add_links(ws, [("member:M1", "unionid:u", 1), ("unionid:u", P1, 2),
                   ("member:M2", P1, 3)])
    resolve(ws)
    assert groups(ws) == {frozenset({"member:M1", "unionid:u", P1}), frozenset({"member:M2"})}
    assert conflicts(ws)[0][-1] == "guard:member"


def test_conflict_naming_two_guarded_types(ws):
    add_keys(ws, {P1: 1, "member:M1": 2, P2: 3, "member:M2": 4})
    add_links(ws, [(P1, "member:M1", 1), (P2, "member:M2", 2), (P1, "member:M2", 3)])
    resolve(ws)
    assert [c[-1] for c in conflicts(ws)] == ["guard:member+phone"]


def test_a_big_component_splits_only_where_the_guard_bites(ws):
    # phone1 - u1 - u2 - phone2, u2 - o1: the u1-u2 link comes last and is refused
    add_keys(ws, {P1: 1, "unionid:u1": 2, "unionid:u2": 3, P2: 4, "openid:o1": 5})
    add_links(ws, [(P1, "unionid:u1", 1), ("unionid:u2", P2, 2), ("openid:o1", "unionid:u2", 3),
                   ("unionid:u1", "unionid:u2", 4)])
    r = resolve(ws)
    assert groups(ws) == {frozenset({P1, "unionid:u1"}),
                          frozenset({"unionid:u2", P2, "openid:o1"})}
    assert (r.consumers, r.conflicts, r.largest_component) == (2, 1, 3)


def test_guard_is_configurable(tmp_path, monkeypatch):
    monkeypatch.setenv("SIYU_ONEID_GUARD_TYPES", '["member"]')
    ws = Workspace.init(tmp_path / "w")
    try:
        add_keys(ws, {P1: 1, "unionid:u": 2, P2: 3})
        add_links(ws, [(P1, "unionid:u", 1), ("unionid:u", P2, 2)])
        r = resolve(ws)
        assert r.conflicts == 0 and r.guard_types == ["member"]
        assert groups(ws) == {frozenset({P1, "unionid:u", P2})}
        ws.settings = load_settings(ws.settings_path, oneid_guard_types=[])
        add_keys(ws, {"member:M1": 4, "member:M2": 5})
        add_links(ws, [("member:M1", "member:M2", 3)])
        assert resolve(ws).conflicts == 0
    finally:
        ws.close()


def test_rerun_changes_nothing(ws):
    add_keys(ws, {P1: 1, "unionid:u": 2, P2: 3, "openid:o": 4})
    add_links(ws, [(P1, "unionid:u", 1), ("unionid:u", P2, 2), ("openid:o", P2, 3)])
    first = resolve(ws)
    before, before_conflicts = id_map(ws), conflicts(ws)
    again = resolve(ws)
    assert id_map(ws) == before and conflicts(ws) == before_conflicts
    assert (first.new_consumers, first.unchanged) == (2, 0)
    assert (again.new_consumers, again.merged, again.split, again.unchanged,
            again.changed) == (0, 0, 0, 2, 0)
    assert changes(ws) == []


@pytest.mark.parametrize("rewrite_share", [0.0, 1.0], ids=["rebuild", "in-place"])
def test_new_links_elsewhere_keep_ids_and_merges_are_recorded(ws, monkeypatch, rewrite_share):
    monkeypatch.setattr("siyu.identity.store.REWRITE_SHARE", rewrite_share)
    add_keys(ws, {"unionid:a": 1, "openid:a": 2, "unionid:b": 3, "openid:b": 4,
                  "unionid:c": 5})
    add_links(ws, [("unionid:a", "openid:a", 1), ("unionid:b", "openid:b", 2)])
    resolve(ws)
    ids = id_map(ws)
    # a new consumer (d) and a new key for c: a and b untouched
    add_keys(ws, {"unionid:d": 6, "openid:c": 7}, load_id="L2")
    add_links(ws, [("openid:c", "unionid:c", 8)])
    r = resolve(ws)
    now = id_map(ws)
    assert all(now[k] == ids[k] for k in ids)
    assert (r.new_consumers, r.unchanged, r.changed, r.merged) == (1, 2, 1, 0)
    # b joins a: b's id disappears, recorded as merged into a's
    add_links(ws, [("openid:a", "openid:b", 9)])
    r = resolve(ws)
    now = id_map(ws)
    assert now["unionid:b"] == now["openid:b"] == cid("unionid:a")
    assert (r.merged, r.split, r.unchanged, r.changed, r.new_consumers) == (1, 0, 2, 1, 0)
    assert changes(ws) == [(cid("unionid:b"), cid("unionid:a"), "merged")]
    rows = ws.warehouse.raw.execute(
        "SELECT DISTINCT run_id FROM identity_map WHERE key = 'openid:b'").fetchall()
    assert rows == [(r.run_id,)]


def test_older_key_arriving_renames_the_consumer(ws):
    add_keys(ws, {"unionid:a": 5, "openid:a": 6})
    add_links(ws, [("unionid:a", "openid:a", 7)])
    resolve(ws)
    add_keys(ws, {"member:M1": 1}, load_id="L2")
    add_links(ws, [("member:M1", "unionid:a", 8)])
    r = resolve(ws)
    assert set(id_map(ws).values()) == {cid("member:M1")}
    assert changes(ws) == [(cid("unionid:a"), cid("member:M1"), "merged")]
    assert (r.merged, r.new_consumers, r.unchanged) == (1, 0, 0)


def test_split_is_recorded_when_an_earlier_link_wins(ws):
    # first run: P1-u (t=10); then an older link u-P2 (t=5) arrives and wins the guard
    add_keys(ws, {"unionid:u": 1, P1: 2, P2: 3})
    add_links(ws, [(P1, "unionid:u", 10)])
    resolve(ws)
    assert id_map(ws)[P1] == cid("unionid:u")
    add_links(ws, [("unionid:u", P2, 5)])
    r = resolve(ws)
    m = id_map(ws)
    assert m["unionid:u"] == m[P2] == cid("unionid:u") and m[P1] == cid(P1)
    # u's old consumer split (P1 left); P2's old consumer merged into u's
    assert (r.split, r.merged, r.conflicts, r.unchanged, r.changed) == (1, 1, 1, 0, 1)
    assert set(changes(ws)) == {(cid("unionid:u"), cid(P1), "split"),
                                (cid(P2), cid("unionid:u"), "merged")}


def test_run_is_recorded_in_the_ops_store(ws):
    add_keys(ws, {"unionid:a": 1})
    r = resolve(ws, run_id="run-1")
    with ws.ops.engine.connect() as conn:
        row = conn.execute(select(identity_runs)).mappings().one()
    assert (row["run_id"], row["status"], row["keys"], row["consumers"], row["links"],
            row["conflicts"]) == ("run-1", "done", 1, 1, 0, 0)
    assert row["report"]["consumers"] == 1 and r.run_id == "run-1"
    with pytest.raises(UsageError, match="already used"):
        resolve(ws, run_id="run-1")
    with pytest.raises(UsageError, match="invalid run id"):
        resolve(ws, run_id="x'; DROP TABLE key_seen")


def test_ids_are_salted_per_workspace(tmp_path, monkeypatch):
    """Each workspace gets its own random salt, so consumer ids cannot be reversed into phone
    numbers and differ between workspaces; the id is md5(salt + oldest key)."""
    import tomllib

    from siyu.identity import resolve
    from siyu.workspace import Workspace
    from tests.identity.helpers import add_keys

    monkeypatch.delenv("SIYU_ID_SALT")
    ids = []
    for name in ("a", "b"):
        w = Workspace.init(tmp_path / name)
        salt = tomllib.loads((w.home / "siyu.toml").read_text(encoding="utf-8"))["id_salt"]
        assert len(salt) == 32 and salt == w.settings.id_salt
        add_keys(w, {"phone:13800138000": 1})
        resolve(w)
        [(got,)] = w.warehouse.raw.execute("SELECT consumer_id FROM identity_map").fetchall()
        assert got == cid("phone:13800138000", salt)
        ids.append(got)
        w.close()
    assert ids[0] != ids[1]
