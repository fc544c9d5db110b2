"""create_task: assignment by relationship (holder → store → pool → unassigned), idempotency,
the daily invitation limit, validation; done / skip / expire; stats."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from siyu.activation.assignment import refresh
from siyu.activation.tasks import (
    TaskClosed,
    TaskNotFound,
    complete,
    create_task,
    expire,
    get_task,
    history,
    list_tasks,
    skip,
    stats,
)
from siyu.config import load_settings
from siyu.errors import UsageError
from siyu.ops.tables import guide_task_events, guide_tasks
from tests.activation.tasks_brand import brand, consumer_ids, local

NOW = local("2025-03-03 09:00")


@pytest.fixture
def shop(ws, tmp_path):
    brand().load(ws, tmp_path)
    got = refresh(ws, NOW)
    assert got == {"guides": 4, "consumers": 4, "held": 3}
    return ws, consumer_ids(ws)


def make(ws, cid, key, *, kind="care", settings=None, now=NOW, **kw):
    with ws.ops.engine.begin() as conn:
        return create_task(conn, consumer_id=cid, kind=kind, title="生日关怀",
                           script="祝您生日快乐", due_at=now + timedelta(days=2),
                           source="test", idempotency_key=key,
                           settings=settings or ws.settings, now=now, **kw)


def test_assignment_follows_the_relationship_then_store_then_pool(shop):
    ws, ids = shop
    t1 = make(ws, ids["phone:13800000001"], "k1")
    t2 = make(ws, ids["phone:13800000002"], "k2")  # latest active guide relationship: g2
    t3 = make(ws, ids["phone:13800000003"], "k3")  # gx left → a guide of S2: g3
    t4 = make(ws, ids["phone:13800000004"], "k4")  # relationship ended; order in S2 → g3
    t5 = make(ws, ids["phone:13800000005"], "k5")  # nothing → no pool → unassigned
    got = {t: (r["guide_id"], r["store_id"], r["assigned_by"])
           for t in (t1, t2, t3, t4, t5) for r in [get_task(ws.ops, t)]}
    assert got == {t1: ("g1", "S1", "holder"), t2: ("g2", "S1", "holder"),
                   t3: ("g3", "S2", "store"), t4: ("g3", "S2", "store"),
                   t5: (None, None, "unassigned")}
    pooled = load_settings(None, task_pool_guides=["g2", "g1"])
    t6 = make(ws, ids["phone:13800000005"], "k6", settings=pooled)
    # pool: fewest open tasks (g1 and g2 have one each) → smallest id
    assert get_task(ws.ops, t6)["guide_id"] == "g1"
    assert get_task(ws.ops, t6)["assigned_by"] == "pool"
    t7 = make(ws, ids["phone:13800000005"], "k7", guide_id="g3")
    assert (get_task(ws.ops, t7)["guide_id"], get_task(ws.ops, t7)["assigned_by"]) == (
        "g3", "explicit")


def test_store_fallback_balances_open_tasks(shop):
    ws, ids = shop
    from siyu.ops.tables import guide_roster

    with ws.ops.engine.begin() as conn:  # a second active guide in S2
        conn.execute(guide_roster.insert().values(guide_id="g4", store_id="S2",
                                                  status="active", synced_at=NOW))
    c3, c4 = ids["phone:13800000003"], ids["phone:13800000004"]
    got = [get_task(ws.ops, make(ws, c, f"k{i}"))["guide_id"]
           for i, c in enumerate([c3, c4, c3, c4, c3])]
    assert got == ["g3", "g4", "g3", "g4", "g3"]  # fewest open first, ties by id
    complete(ws.ops, list_tasks(ws.ops, guide="g3", status="open", now=NOW)[0]["task_id"], "ok", now=NOW)
    complete(ws.ops, list_tasks(ws.ops, guide="g3", status="open", now=NOW)[0]["task_id"], "ok", now=NOW)
    assert get_task(ws.ops, make(ws, c4, "k9"))["guide_id"] == "g3"  # 1 open vs g4's 2


def test_idempotent_on_the_key(shop):
    ws, ids = shop
    cid = ids["phone:13800000001"]
    first = make(ws, cid, "journey:j1:e1:s2")
    again = make(ws, cid, "journey:j1:e1:s2", now=NOW + timedelta(days=1))
    assert first == again
    with ws.ops.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(guide_tasks)).scalar() == 1
        assert conn.execute(select(func.count()).select_from(guide_task_events)).scalar() == 1


def test_rolls_back_with_the_callers_transaction(shop):
    ws, ids = shop
    with pytest.raises(RuntimeError), ws.ops.engine.begin() as conn:
        create_task(conn, consumer_id=ids["phone:13800000001"], kind="care", title="t",
                    script=None, due_at=NOW, source="test", idempotency_key="rb",
                    settings=ws.settings, now=NOW)
        raise RuntimeError("the journey step failed")
    assert list_tasks(ws.ops, now=NOW) == []


def test_invitations_over_the_daily_limit_wait_for_the_next_day(shop):
    ws, ids = shop
    s = load_settings(None, guide_daily_invites=2)
    cid = ids["phone:13800000001"]  # held by g1
    tids = [make(ws, cid, f"inv{i}", kind="invite", settings=s) for i in range(5)]
    days = [get_task(ws.ops, t)["invite_day"] for t in tids]
    d = date(2025, 3, 3)
    assert days == [d, d, d + timedelta(days=1), d + timedelta(days=1), d + timedelta(days=2)]
    third = get_task(ws.ops, tids[2])
    assert third["available_at"] == local("2025-03-04 00:00")
    assert third["due_at"] == NOW + timedelta(days=3)  # the two days it had, a day later
    assert [e["event"] for e in history(ws.ops, tids[2])] == ["created", "deferred"]
    assert history(ws.ops, tids[2])[1]["detail"] == {
        "reason": "guide_daily_invites", "limit": 2, "until": "2025-03-04"}
    # what g1 sees on the day: two invitations; the next day four
    assert len(list_tasks(ws.ops, guide="g1", now=NOW)) == 2
    assert len(list_tasks(ws.ops, guide="g1", now=local("2025-03-04 08:00"))) == 4
    assert len(list_tasks(ws.ops, guide="g1", now=NOW, waiting=True)) == 5
    # a skipped invitation frees its place; other kinds never count
    skip(ws.ops, tids[0], "顾客已是好友", now=NOW)
    assert get_task(ws.ops, make(ws, cid, "inv5", kind="invite", settings=s))[
        "invite_day"] == d
    assert get_task(ws.ops, make(ws, cid, "care", kind="care", settings=s))[
        "invite_day"] is None


@pytest.mark.parametrize("field,value,message", [
    ("kind", "Invite!", "task kind"),
    ("title", "  ", "task field title"),
    ("due_at", NOW.replace(tzinfo=None), "task field due_at: needs a time zone"),
    ("idempotency_key", "", "task field idempotency_key"),
    ("consumer_id", None, "task field consumer_id"),
])
def test_invalid_input_is_refused_with_the_field(shop, field, value, message):
    ws, ids = shop
    args = dict(consumer_id=ids["phone:13800000001"], kind="care", title="t", script=None,
                due_at=NOW, source="test", idempotency_key="bad", settings=ws.settings,
                now=NOW)
    args[field] = value
    with pytest.raises(UsageError, match=message), ws.ops.engine.begin() as conn:
        create_task(conn, **args)


def test_done_skip_and_their_errors(shop):
    ws, ids = shop
    a = make(ws, ids["phone:13800000001"], "a")
    b = make(ws, ids["phone:13800000002"], "b")
    done = complete(ws.ops, a, "已电话祝福，顾客很开心", now=NOW + timedelta(hours=3),
                    actor="cli:test")
    assert (done["status"], done["result"], done["closed_at"]) == (
        "done", "已电话祝福，顾客很开心", NOW + timedelta(hours=3))
    with pytest.raises(TaskClosed, match="already done"):
        complete(ws.ops, a, "again")
    with pytest.raises(TaskClosed, match="already done"):
        skip(ws.ops, a, "x")
    with pytest.raises(UsageError, match="reason"):
        skip(ws.ops, b, " ")
    assert skip(ws.ops, b, "顾客出差", now=NOW)["status"] == "skipped"
    with pytest.raises(TaskNotFound, match="no task nope"):
        complete(ws.ops, "nope")
    assert [e["event"] for e in history(ws.ops, a)] == ["created", "done"]
    assert history(ws.ops, a)[1]["detail"] == {"actor": "cli:test"}


def test_expire_and_stats(shop):
    ws, ids = shop
    c1, c2 = ids["phone:13800000001"], ids["phone:13800000002"]
    t = [make(ws, c1, f"g1-{i}") for i in range(4)] + [make(ws, c2, "g2-0")]
    later = make(ws, c1, "g1-later", now=NOW + timedelta(days=10))  # due 2025-03-15
    complete(ws.ops, t[0], "ok", now=NOW)
    skip(ws.ops, t[1], "no", now=NOW)
    # due 2025-03-05 09:00; at 03-13 10:00 with 7 expire days → cutoff 03-06 10:00: expired
    with ws.ops.engine.begin() as conn:
        assert expire(conn, NOW + timedelta(days=10, hours=1), 7) == 3  # t[2], t[3], g2-0
    assert get_task(ws.ops, t[2])["status"] == "expired"
    assert get_task(ws.ops, later)["status"] == "open"
    at = NOW + timedelta(days=13)  # 2025-03-16: `later` (due 03-15 09:00) is overdue
    assert stats(ws.ops, now=at) == [
        {"guide": "g1", "open": 1, "waiting": 0, "done": 1, "skipped": 1, "expired": 2,
         "overdue": 1, "completion_rate": 0.2},
        {"guide": "g2", "open": 0, "waiting": 0, "done": 0, "skipped": 0, "expired": 1,
         "overdue": 0, "completion_rate": 0.0}]
    assert stats(ws.ops, by="store", now=NOW + timedelta(days=10, hours=2)) == [
        {"store": "S1", "open": 1, "waiting": 0, "done": 1, "skipped": 1, "expired": 3,
         "overdue": 0, "completion_rate": 0.2}]
    assert stats(ws.ops, guide="g3", now=at) == []


def test_on_postgresql(tmp_path, monkeypatch, postgres_url):
    """The same rules on a real PostgreSQL operational store (what production runs)."""
    from siyu.workspace import Workspace

    monkeypatch.setenv("SIYU_OPS_URL", postgres_url)
    ws = Workspace.init(tmp_path / "pg", brand_name="测试品牌")
    try:
        brand().load(ws, tmp_path)
        refresh(ws, NOW)
        ids = consumer_ids(ws)
        s = load_settings(None, guide_daily_invites=1)
        a = make(ws, ids["phone:13800000001"], "a", kind="invite", settings=s)
        b = make(ws, ids["phone:13800000001"], "b", kind="invite", settings=s)
        assert make(ws, ids["phone:13800000001"], "a", kind="invite", settings=s) == a
        assert [get_task(ws.ops, t)["invite_day"] for t in (a, b)] == [
            date(2025, 3, 3), date(2025, 3, 4)]
        assert get_task(ws.ops, make(ws, ids["phone:13800000003"], "c"))["guide_id"] == "g3"
        complete(ws.ops, a, "ok", now=NOW)
        assert [r["done"] for r in stats(ws.ops, now=NOW)] == [1, 0]
    finally:
        ws.close()
