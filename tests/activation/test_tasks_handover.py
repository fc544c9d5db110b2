"""离职继承: a departing guide's customers and open tasks go to another guide; history stays."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from siyu.activation.assignment import effective_guide, refresh
from siyu.activation.handover import handover, handovers
from siyu.activation.tasks import complete, create_task, get_task, history
from siyu.config import load_settings
from siyu.errors import UsageError
from siyu.ops.audit import entries
from tests.activation.tasks_brand import brand, consumer_ids, local
from tests.models.builder import Brand

NOW = local("2025-03-03 09:00")


@pytest.fixture
def shop(ws, tmp_path):
    brand().load(ws, tmp_path)
    refresh(ws, NOW)
    return ws, consumer_ids(ws)


def make(ws, cid, key, kind="care", settings=None, now=NOW):
    with ws.ops.engine.begin() as conn:
        return create_task(conn, consumer_id=cid, kind=kind, title="回访", script=None,
                           due_at=now + timedelta(days=1), source="test", idempotency_key=key,
                           settings=settings or ws.settings, now=now)


def test_handover_moves_customers_and_open_tasks_and_keeps_history(shop):
    ws, ids = shop
    c1 = ids["phone:13800000001"]
    a, b, c = make(ws, c1, "a"), make(ws, c1, "b"), make(ws, c1, "c")
    complete(ws.ops, c, "已回访", now=NOW)
    at = NOW + timedelta(hours=2)
    got = handover(ws, "g1", "g3", actor="cli:hr", now=at)
    assert {k: v for k, v in got.items() if k != "handover_id"} == {
        "from": "g1", "to": "g3", "consumers": 1, "tasks": 2, "invites_deferred": 0}
    for t in (a, b):
        row = get_task(ws.ops, t)
        assert (row["guide_id"], row["store_id"], row["assigned_by"]) == ("g3", "S2", "handover")
        assert [e["event"] for e in history(ws.ops, t)] == ["created", "handed_over"]
        assert history(ws.ops, t)[1]["detail"] == {"from_guide": "g1",
                                                   "handover_id": got["handover_id"]}
    assert get_task(ws.ops, c)["guide_id"] == "g1"  # closed work stays with who did it
    # new tasks for the customer go to the new guide
    new = get_task(ws.ops, make(ws, c1, "d"))
    assert (new["guide_id"], new["assigned_by"]) == ("g3", "handover")
    [h] = handovers(ws.ops, "g1")
    assert (h["from_guide"], h["to_guide"], h["consumers"], h["tasks"], h["actor"]) == (
        "g1", "g3", 1, 2, "cli:hr")
    [audit] = entries(ws.ops, "guide_handover")
    assert (audit["actor"], audit["target"], audit["detail"]["consumers"]) == ("cli:hr", "g1", 1)
    with ws.ops.engine.connect() as conn:
        from siyu.ops.tables import guide_handover_consumers as hc

        assert conn.execute(hc.select()).all() == [(got["handover_id"], c1, "g1")]


def test_a_second_handover_and_a_new_warehouse_relationship(shop, tmp_path):
    ws, ids = shop
    c1 = ids["phone:13800000001"]
    handover(ws, "g1", "g3", now=NOW)
    got = handover(ws, "g3", "g2", now=NOW + timedelta(hours=1))
    assert got["consumers"] == 1  # the customer g3 inherited moves on
    with ws.ops.engine.connect() as conn:
        assert effective_guide(conn, c1) == ("g2", "S1", "handover")
    # the brand's export later shows the customer as g3's friend: the warehouse wins
    Brand().add("relationships", event_id="later-1", consumer_key="phone:13800000001",
                field="guide", action="start", occurred_at="2025-03-05 10:00",
                field_ref="g3").load(ws, tmp_path)
    refresh(ws, local("2025-03-06 00:00"))
    with ws.ops.engine.connect() as conn:
        assert effective_guide(conn, c1) == ("g3", "S2", "holder")


def test_moved_invitations_count_against_the_new_guides_limit(shop):
    ws, ids = shop
    s = load_settings(None, guide_daily_invites=1)
    ws.settings = s
    inv1 = make(ws, ids["phone:13800000001"], "i1", kind="invite", settings=s)  # g1, 03-03
    make(ws, ids["phone:13800000004"], "i3", kind="invite", settings=s)  # g3 (store), 03-03
    got = handover(ws, "g1", "g3", now=NOW)
    assert got["invites_deferred"] == 1
    row = get_task(ws.ops, inv1)
    assert (row["guide_id"], row["invite_day"], row["available_at"]) == (
        "g3", date(2025, 3, 4), local("2025-03-04 00:00"))
    assert row["due_at"] == NOW + timedelta(days=2)


@pytest.mark.parametrize("frm,to,message", [
    ("g1", "g1", "same guide"),
    ("g1", "nobody", "guide nobody is not in the guide roster"),
    ("g1", "gx", "guide gx has left"),
    ("ghost", "g2", "no guide ghost"),
])
def test_handover_refuses_bad_guides(shop, frm, to, message):
    ws, _ = shop
    with pytest.raises(UsageError, match=message):
        handover(ws, frm, to, now=NOW)
    assert handovers(ws.ops) == []


def test_refresh_runs_again_only_after_new_data(ws, tmp_path):
    from siyu.activation.assignment import last_refresh, refresh_if_stale

    assert last_refresh(ws.ops) is None
    brand().load(ws, tmp_path)
    assert refresh_if_stale(ws, NOW) == {"guides": 4, "consumers": 4, "held": 3}
    first = last_refresh(ws.ops)
    assert refresh_if_stale(ws, NOW) is None  # nothing imported or resolved since
    Brand().add("relationships", event_id="new-1", consumer_key="phone:13800000005",
                field="guide", action="start", occurred_at="2025-03-01 10:00",
                field_ref="g3").load(ws, tmp_path)
    assert refresh_if_stale(ws, NOW) == {"guides": 4, "consumers": 5, "held": 4}
    assert last_refresh(ws.ops) > first
