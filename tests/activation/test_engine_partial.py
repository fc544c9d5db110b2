"""A step that fails part-way leaves nothing behind (a SAVEPOINT per enrolment, its outbox,
log and coupon rows dropped, its counted sends uncounted) and the rest of the batch goes on;
on PostgreSQL a claim leases at most the batch size. SQLite and a real PostgreSQL server."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text

from siyu.activation.engine import claim, enrol_many, run_pass
from siyu.activation.store import definition, deploy
from siyu.ops.tables import guide_tasks, journey_enrolments, journey_log, outbox, send_counters
from siyu.workspace import Workspace
from tests.activation.journey_support import local

# the store refuses the second task of a consumer whose id ends in "bad": a database error
# raised after the first task was inserted and the send counted
TWO_TASKS = """\
name: two_tasks
title: 两个任务
trigger: {type: manual}
steps:
  - send: {channel: file, template: "你好"}
  - task: {kind: care, title: "第一件"}
  - task: {kind: care, title: "第二件 {consumer_id}"}
"""
REFUSE = {
    "sqlite": ["CREATE TRIGGER refuse BEFORE INSERT ON guide_tasks WHEN NEW.title LIKE "
               "'第二件 %bad' BEGIN SELECT RAISE(ABORT, 'refused by the store'); END"],
    "postgresql": [
        "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN IF NEW.title LIKE '第二件 %bad' "
        "THEN RAISE EXCEPTION 'refused by the store'; END IF; RETURN NEW; END $$ "
        "LANGUAGE plpgsql",
        "CREATE TRIGGER refuse BEFORE INSERT ON guide_tasks FOR EACH ROW EXECUTE FUNCTION "
        "refuse()"],
}
GOOD = ["c0000000000000a1", "c0000000000000a2", "c0000000000000a3"]
BAD = ["c00000000000abad", "c00000000000bbad"]


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path, monkeypatch):
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else ""
    monkeypatch.setenv("SIYU_OPS_URL", url)
    ws = Workspace.init(tmp_path / "ws")
    yield ws
    ws.close()


def _state(ws):
    with ws.ops.engine.connect() as c:
        status = dict(c.execute(select(journey_enrolments.c.consumer_id,
                                       journey_enrolments.c.status)).all())
        tasks = Counter(r[0] for r in c.execute(select(guide_tasks.c.consumer_id)))
        sent = Counter(r[0] for r in c.execute(select(outbox.c.consumer_id)))
        caps = {(r[0], r[1][:1]): r[2] for r in c.execute(
            select(send_counters.c.consumer_id, send_counters.c.bucket, send_counters.c.count))}
        failed = c.execute(select(journey_log.c.step, journey_log.c.reason,
                                  journey_log.c.detail).where(journey_log.c.kind == "failed")
                           .order_by(journey_log.c.id)).all()
    return status, tasks, sent, caps, failed


def test_a_step_failing_part_way_leaves_nothing(store):
    ws = store
    with ws.ops.engine.begin() as c:
        for sql in REFUSE[c.dialect.name]:
            c.execute(text(sql))
    deploy(ws.ops, TWO_TASKS, actor="t")
    t = local("2025-03-03 10:00")
    with ws.ops.engine.begin() as c:
        enrol_many(c, definition(c, "two_tasks", 1), 1,
                   [(cid, t, "m") for cid in sorted(GOOD + BAD)])
    got = run_pass(ws, now=t)
    assert got["advanced"] == 5 and got["batches"] == 1  # one batch, two failures inside it
    status, tasks, sent, caps, failed = _state(ws)
    assert status == {**{c: "done" for c in GOOD}, **{c: "failed" for c in BAD}}
    assert tasks == {c: 2 for c in GOOD}  # no first task of a failed enrolment remains
    assert sent == {c: 1 for c in GOOD}  # nor its outbox row
    assert caps == {**{(c, "d"): 1 for c in GOOD}, **{(c, "w"): 1 for c in GOOD}}
    # the error is on the log, at the step the enrolment stood at when the pass began
    dbapi = {"sqlite": "IntegrityError", "postgresql": "ProgrammingError"}
    assert failed == [("s1", dbapi[ws.ops.engine.dialect.name],
                       {"error": "refused by the store"})] * 2


SHARED = """\
name: shared
title: 也发一条
trigger: {type: manual}
steps:
  - send: {channel: file, template: "另一条"}
"""
TOO_FAR = """\
name: too_far
title: 任务太远
trigger: {type: manual}
steps:
  - send: {channel: file, template: "先发"}
  - task: {kind: care, title: "回访"}
  - task: {kind: care, title: "十年后", due_in: "9999d"}
"""


def test_counted_sends_of_a_failed_step_are_uncounted(tmp_path, monkeypatch):
    # caps: one file message a day; "too_far" sends first, then fails (a task due in 27
    # years is refused by create_task) — its send must not use up the consumer's cap, so the
    # "shared" send in the same batch still goes
    monkeypatch.setenv("SIYU_CAP_PER_CHANNEL_DAY", "1")
    ws = Workspace.init(tmp_path / "ws")
    deploy(ws.ops, TOO_FAR, actor="t")
    deploy(ws.ops, SHARED, actor="t")
    t = local("2025-03-03 10:00")
    with ws.ops.engine.begin() as c:
        enrol_many(c, definition(c, "too_far", 1), 1, [(GOOD[0], t, "m")])
        enrol_many(c, definition(c, "shared", 1), 1,
                   [(GOOD[0], t + timedelta(minutes=1), "m")])
    got = run_pass(ws, now=t + timedelta(minutes=1))
    assert got["advanced"] == 2 and got["batches"] == 1
    status, tasks, sent, caps, failed = _state(ws)
    with ws.ops.engine.connect() as c:
        texts = [r[0]["text"] for r in c.execute(select(outbox.c.payload))]
        supp = c.execute(select(func.count()).where(journey_log.c.kind == "suppressed")
                         ).scalar()
    ws.close()
    assert texts == ["另一条"] and supp == 0
    assert tasks == {} and caps == {(GOOD[0], "d"): 1, (GOOD[0], "w"): 1}
    assert [(s, r) for s, r, _d in failed] == [("s1", "UsageError")]
    assert "too far" in failed[0][2]["error"] or "过远" in failed[0][2]["error"]


def test_a_postgres_claim_takes_at_most_the_batch(store):
    ws = store
    deploy(ws.ops, SHARED, actor="t")
    t = local("2025-03-03 10:00")
    with ws.ops.engine.begin() as c:
        enrol_many(c, definition(c, "shared", 1), 1,
                   [(f"c{i:015x}", t, "m") for i in range(120)])
    first = claim(ws.ops, "w1", t, 25, 60)
    second = claim(ws.ops, "w2", t, 25, 60)
    with ws.ops.engine.connect() as c:
        leased = dict(c.execute(select(journey_enrolments.c.lease_owner, func.count())
                                .group_by(journey_enrolments.c.lease_owner)).all())
    assert len(first) == 25 and len(second) == 25
    assert not {i for i, _ in first} & {i for i, _ in second}
    assert leased == {"w1": 25, "w2": 25, None: 70}


# the caps of a batch after some enrolments' sends were undone are exactly the caps of a
# batch in which only the kept enrolments ran (same answers, same counters written)
_enrolment = st.lists(st.tuples(st.sampled_from(GOOD), st.sampled_from(["file", "sms"]),
                                st.integers(0, 9)), min_size=1, max_size=4)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(groups=st.lists(st.tuples(_enrolment, st.booleans()), max_size=12))
def test_undone_sends_leave_the_caps_as_if_never_taken(ws, groups):
    from siyu.activation.guardrails import Caps

    t = local("2025-03-03 10:00")
    with ws.ops.engine.connect() as c:
        mixed, kept = Caps(c, GOOD, ws.settings), Caps(c, GOOD, ws.settings)
        answers = []
        for sends, keep in groups:
            mark = mixed.mark()
            got = [mixed.take(cid, ch, t + timedelta(days=d)) for cid, ch, d in sends]
            if keep:
                answers.append(got)
            else:
                mixed.undo(mark)
        again = [[kept.take(cid, ch, t + timedelta(days=d)) for cid, ch, d in sends]
                 for sends, keep in groups if keep]
        assert answers == again
        assert mixed.dirty == kept.dirty
        assert {k: mixed.counts[k] for k in mixed.dirty} == {k: kept.counts[k]
                                                             for k in kept.dirty}
