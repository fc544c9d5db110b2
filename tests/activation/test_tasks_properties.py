"""Invariants of task creation under any order of requests (hypothesis): no guide is given more
invitations on a day than the limit, none is placed before the day it was asked for, and
repeating a request never adds a task."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from siyu.activation.tasks import create_task, skip
from siyu.config import load_settings
from siyu.ops.tables import guide_task_events, guide_tasks
from tests.activation.tasks_brand import SH, local

T0 = local("2025-03-03 09:00")

requests = st.lists(st.tuples(
    st.sampled_from(["g1", "g2"]),              # guide
    st.integers(0, 3),                           # day of the request, from T0
    st.integers(0, 5),                           # request number (repeats are retries)
    st.sampled_from(["invite", "invite", "care"]),
    st.booleans(),                               # skip it right after
), max_size=40)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(reqs=requests, limit=st.integers(1, 3))
def test_daily_invitation_limit_and_idempotency(ws, reqs, limit):
    s = load_settings(None, guide_daily_invites=limit)
    with ws.ops.engine.begin() as conn:
        conn.execute(guide_task_events.delete())
        conn.execute(guide_tasks.delete())
    asked: dict[str, str] = {}
    asked_on: dict[str, date] = {}
    for guide, day, n, kind, skipped in reqs:
        key = f"{guide}:{day}:{n}:{kind}"
        now = T0 + timedelta(days=day)
        with ws.ops.engine.begin() as conn:
            tid = create_task(conn, consumer_id="c1", kind=kind, title="t", script=None,
                              due_at=now + timedelta(days=1), source="test",
                              idempotency_key=key, guide_id=guide, settings=s, now=now)
        if key in asked:
            assert asked[key] == tid
            continue
        asked[key] = tid
        asked_on[tid] = now.astimezone(SH).date()
        if skipped:
            skip(ws.ops, tid, "不需要", now=now)
    with ws.ops.engine.connect() as conn:
        rows = conn.execute(select(guide_tasks)).all()
    assert len(rows) == len(asked)
    per_day = Counter((r.guide_id, r.invite_day) for r in rows
                      if r.kind == "invite" and r.status != "skipped")
    assert all(v <= limit for v in per_day.values())
    for r in rows:
        if r.kind == "invite":
            assert r.invite_day >= asked_on[r.task_id]
        else:
            assert r.invite_day is None
