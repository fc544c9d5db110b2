"""The dispatcher: claims, outcomes, backoff, dead letters, fencing and leases, against the
file channel and a real webhook server on loopback with scripted faults."""

from __future__ import annotations

import json
import random
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from siyu.channels.base import Dead, Message, send_guards
from siyu.channels.dispatcher import backoff_seconds, claim, drain
from siyu.channels.fakes import FakeWebhook, Fault
from siyu.channels.outbox import counts, enqueue, receipts, retry
from siyu.ops.tables import outbox
from tests.channels.conftest import configure, fake_settings
from tests.channels.helpers import T0, attempts, put, rows, statuses


def test_file_channel_writes_each_message_once_with_its_key(ws):
    put(ws, "file", 3)
    got = drain(ws, now=T0)
    assert (got.claimed, got.sent, got.retried, got.dead) == (3, 3, 0, 0)
    lines = [json.loads(x) for f in (ws.home / "outbox").glob("*.jsonl")
             for x in f.read_text(encoding="utf-8").splitlines()]
    assert sorted(x["idempotency_key"] for x in lines) == ["m0", "m1", "m2"]
    assert statuses(ws) == {"sent": 3}
    assert [r["status"] for r in receipts(ws, rows(ws)[0].id)] == ["sent"]
    assert drain(ws, now=T0).claimed == 0  # nothing twice


def test_rows_not_yet_due_wait(ws):
    put(ws, "file", 2, now=T0 + timedelta(hours=1))
    assert drain(ws, now=T0).claimed == 0
    assert drain(ws, now=T0 + timedelta(hours=1)).sent == 2


def test_limit_bounds_one_drain(ws):
    put(ws, "file", 5)
    assert drain(ws, now=T0, limit=2).claimed == 2
    assert statuses(ws) == {"sent": 2, "pending": 3}


def test_unknown_channel_is_dead_lettered_with_reason(ws):
    put(ws, "pigeon", 1)
    got = drain(ws, now=T0)
    assert got.dead == 1
    assert "unknown channel 'pigeon'" in rows(ws)[0].last_error


def test_backoff_doubles_with_jitter_and_honours_retry_after():
    rng = random.Random(7)
    for attempt, lo, hi in [(1, 15, 30), (2, 30, 60), (3, 60, 120), (10, 1800, 3600)]:
        d = backoff_seconds(attempt, 30, 3600, rng=rng)
        assert lo <= d <= hi
    assert backoff_seconds(1, 30, 3600, after=500, rng=rng) == 500


def test_webhook_transient_errors_retry_then_send_once(ws, webhook):
    configure(ws, **fake_settings(webhook=webhook))
    webhook.add_faults("/hook", Fault(500), Fault.timeout(0.8), Fault(429, headers=(
        ("Retry-After", "5"),)))
    put(ws, "webhook", 1, recipient=None)
    t = T0
    outcomes = []
    for _ in range(4):
        got = drain(ws, now=t)
        outcomes.append((got.sent, got.retried))
        r = rows(ws)[0]
        t = r.next_attempt_at.replace(tzinfo=t.tzinfo) if r.status == "failed" else t
    assert outcomes == [(0, 1), (0, 1), (0, 1), (1, 0)]
    r = rows(ws)[0]
    assert (r.status, r.attempts, r.last_error) == ("sent", 4, None)
    assert r.provider_message_id == "wh-m0"
    assert [a.outcome for a in attempts(ws)] == ["retry", "unknown", "retry", "sent"]
    assert "HTTP 429" in attempts(ws)[2].error
    assert webhook.unique == 1 and webhook.bad_signatures == 0


def test_rate_limit_pauses_the_channel_and_defers_the_rest(ws, webhook):
    configure(ws, **fake_settings(webhook=webhook), channel_concurrency={"webhook": 1})
    webhook.add_faults("/hook", Fault(429, headers=(("Retry-After", "30"),)))
    put(ws, "webhook", 3, recipient=None)
    got = drain(ws, now=T0)
    assert (got.retried, got.deferred, got.sent) == (1, 2, 0)
    rs = rows(ws)
    assert [r.attempts for r in rs] == [1, 0, 0]  # a deferral uses no attempt
    assert [r.status for r in rs] == ["failed", "pending", "pending"]
    assert drain(ws, now=T0 + timedelta(seconds=10)).claimed == 0  # still paused
    got = drain(ws, now=T0 + timedelta(seconds=61))
    assert got.sent == 3


def test_permanent_error_is_dead_at_once(ws, webhook):
    configure(ws, **fake_settings(webhook=webhook))
    webhook.add_faults("/hook", Fault(400, {"error": "no such customer"}))
    put(ws, "webhook", 1, recipient=None)
    got = drain(ws, now=T0)
    assert got.dead == 1
    r = rows(ws)[0]
    assert (r.status, r.attempts, r.last_error) == ("dead", 1, "webhook: HTTP 400")
    assert [x["status"] for x in receipts(ws, r.id)] == ["failed"]


def test_attempts_used_up_dead_letters_with_the_last_error(ws, webhook):
    configure(ws, **fake_settings(webhook=webhook), dispatch_max_attempts=3)
    webhook.add_faults("/hook", *[Fault(503)] * 5)
    put(ws, "webhook", 1, recipient=None)
    t = T0
    for _ in range(3):
        drain(ws, now=t)
        t += timedelta(hours=1)
    r = rows(ws)[0]
    assert (r.status, r.attempts) == ("dead", 3)
    assert r.last_error == "gave up after 3 attempts: webhook: HTTP 503"
    n = retry(ws, [r.id], now=t)  # the operator puts it back
    assert n == 1 and drain(ws, now=t).retried == 1


def test_a_late_outcome_of_a_reclaimed_row_changes_nothing(ws):
    """Fencing: the attempt number must still match when the outcome is written."""
    put(ws, "file", 1)
    first = claim(ws, T0, 10, worker="w1")
    later = T0 + timedelta(seconds=ws.settings.dispatch_lease_seconds + 1)
    second = claim(ws, later, 10, worker="w2")
    assert [m.attempt for m in first + second] == [1, 2] and second[0].in_doubt
    from siyu.channels.base import Sent
    from siyu.channels.dispatcher import DrainResult, _finish

    res = DrainResult()
    _finish(ws, later, [(first[0], Sent("late"))], res, random.Random(1))
    r = rows(ws)[0]
    assert (r.status, r.provider_message_id) == ("sending", None)
    _finish(ws, later, [(second[0], Sent("ok"))], res, random.Random(1))
    assert (rows(ws)[0].status, rows(ws)[0].provider_message_id) == ("sent", "ok")
    assert [a.outcome for a in attempts(ws)] == ["lost", "sent"]


def test_in_doubt_message_of_a_non_idempotent_channel_is_not_resent(ws, sms):
    configure(ws, **fake_settings(sms=sms))
    put(ws, "sms", 1, recipient="13800138000", payload={"template_id": "1", "params": []})
    claim(ws, T0, 10, worker="dead-worker")  # claimed, then the worker "died"
    got = drain(ws, now=T0 + timedelta(seconds=301))
    assert (got.in_doubt, got.dead, got.sent) == (1, 1, 0)
    assert rows(ws)[0].last_error.startswith("in doubt")
    assert sms.sent == []


def test_in_doubt_message_of_an_idempotent_channel_is_resent_with_its_key(ws, webhook):
    configure(ws, **fake_settings(webhook=webhook))
    put(ws, "webhook", 1, recipient=None)
    claim(ws, T0, 10, worker="dead-worker")
    got = drain(ws, now=T0 + timedelta(seconds=301))
    assert (got.in_doubt, got.sent) == (1, 1)
    assert list(webhook.received) == ["m0"]


def test_send_guards_suppress_at_send_time(ws):
    put(ws, "file", 2)

    def revoked(_ws, msgs: list[Message]) -> dict[int, str]:
        return {m.id: "consent revoked" for m in msgs if m.idempotency_key == "m1"}

    send_guards.add(revoked)
    try:
        got = drain(ws, now=T0)
    finally:
        send_guards.checks.remove(revoked)
    assert (got.sent, got.dead) == (1, 1)
    assert rows(ws)[1].last_error == "suppressed: consent revoked"


def test_enqueue_is_idempotent_and_validates(ws):
    assert len(put(ws, "file", 2)) == 2
    assert put(ws, "file", 2) == []
    from siyu.errors import UsageError

    with pytest.raises(UsageError, match="message 1: channel is missing"):
        enqueue(ws, [{"idempotency_key": "x", "payload": {"a": 1}}])
    assert counts(ws) == {"file": {"pending": 2}}


FAULTS = st.sampled_from(["ok", "500", "timeout", "429", "400", "lost"])


@pytest.fixture(scope="module")
def shared_ws(tmp_path_factory):
    from siyu.workspace import Workspace

    w = Workspace.init(tmp_path_factory.mktemp("w") / "ws")
    yield w
    w.close()


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(script=st.lists(FAULTS, max_size=8), n=st.integers(1, 6))
def test_every_message_ends_sent_once_or_dead(shared_ws, script, n):
    """Whatever the fault sequence: each message ends `sent` (the receiver got its key) or
    `dead` with a reason, and the dispatcher stops."""
    from siyu.ops.tables import channel_attempts, channel_receipts, channel_state

    ws = shared_ws
    with ws.ops.engine.begin() as c:
        for t in (outbox, channel_attempts, channel_receipts, channel_state):
            c.execute(t.delete())
    kinds = {"500": Fault(500), "timeout": Fault.timeout(0.45), "429": Fault(429),
             "400": Fault(400), "lost": Fault.lost_answer(0.45)}
    with FakeWebhook("hook-secret") as hook:
        configure(ws, **{**fake_settings(webhook=hook), "dispatch_max_attempts": 4,
                         "channel_concurrency": {"webhook": 2},
                         "channel_timeout_seconds": 0.3})
        hook.add_faults("/hook", *[kinds[k] for k in script if k != "ok"])
        put(ws, "webhook", n, recipient=None)
        t = T0
        for _ in range(10):
            drain(ws, now=t)
            t += timedelta(hours=2)
        rs = rows(ws)
        assert {r.status for r in rs} <= {"sent", "dead"}
        for r in rs:
            if r.status == "sent":
                assert hook.received[r.idempotency_key] >= 1
            else:
                assert r.last_error
        sent_receipts = sum(1 for r in rs for x in receipts(ws, r.id) if x["status"] == "sent")
        assert sent_receipts == sum(r.status == "sent" for r in rs)


def test_dead_and_sent_are_final(ws):
    put(ws, "file", 1)
    drain(ws, now=T0)
    with ws.ops.engine.begin() as c:
        c.execute(update(outbox).values(next_attempt_at=T0 - timedelta(days=1)))
    assert drain(ws, now=T0 + timedelta(days=1)).claimed == 0
    assert isinstance(Dead("x"), Dead)


def test_consent_revoked_after_queueing_stops_the_send(ws):
    from siyu.activation.consent import record_change

    enqueue(ws, [{"idempotency_key": f"c{i}", "channel": "file", "consumer_id": f"c{i}",
                  "purpose": "marketing", "payload": {"text": "新品"}} for i in range(3)],
            now=T0)
    record_change(ws.ops, consumer_id="c1", purpose="marketing", channel="wecom",
                  granted=False, actor="test")  # file stands in for every channel
    record_change(ws.ops, consumer_id="c2", purpose="service", channel="all", granted=False,
                  actor="test")  # another purpose: no effect
    got = drain(ws, now=T0)
    assert (got.sent, got.dead) == (2, 1)
    assert rows(ws)[1].last_error == "suppressed: consent revoked (marketing)"


def test_webhook_batches_carry_each_key_and_refusals_are_dead(ws, webhook):
    configure(ws, **{**fake_settings(webhook=webhook), "webhook_batch_size": 2,
                     "channel_concurrency": {"webhook": 1}})
    webhook.refuse.add("m1")
    webhook.add_faults("/hook", Fault(503))  # the first batch fails as a whole: retried
    put(ws, "webhook", 5, recipient=None)
    got = drain(ws, now=T0)
    assert (got.sent, got.retried, got.dead) == (3, 2, 0)
    assert webhook.batches == 2  # [m2, m3] and [m4]; [m0, m1] got the 503
    got = drain(ws, now=T0 + timedelta(hours=1))
    assert (got.sent, got.dead) == (1, 1)
    assert sorted(webhook.received) == ["m0", "m2", "m3", "m4"]
    assert rows(ws)[1].last_error == "webhook: refused: refused"
    body = webhook.calls("/hook")[1].json()
    assert [m["idempotency_key"] for m in body["messages"]] == ["m2", "m3"]


@pytest.mark.parametrize("limit", [1, 3])
def test_concurrency_limit_per_channel_is_honoured(ws, webhook, limit):
    """At most ``channel_concurrency[channel]`` requests in flight at the provider."""
    configure(ws, **fake_settings(webhook=webhook), channel_concurrency={"webhook": limit})
    webhook.latency = 0.05
    put(ws, "webhook", 12, recipient=None)
    assert drain(ws, now=T0).sent == 12
    assert webhook.max_in_flight == limit
