"""The dispatcher on PostgreSQL: two dispatchers draining at once never claim the same row
(FOR UPDATE SKIP LOCKED), and a reclaimed row is in doubt."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from siyu.channels.dispatcher import claim, drain
from siyu.channels.outbox import enqueue
from siyu.workspace import Workspace
from tests.channels.conftest import fake_settings, write_settings


def _pg_ws(tmp_path, url, **settings):
    Workspace.init(tmp_path / "ws").close()
    ws = Workspace.open(tmp_path / "ws")
    write_settings(ws, ops_url=url, **settings)
    ws = Workspace.open(tmp_path / "ws")
    ws.ops.upgrade()
    assert ws.ops.engine.dialect.name == "postgresql"
    return ws


def test_two_dispatchers_on_postgres_send_each_message_once(tmp_path, postgres_url, webhook):
    s = fake_settings(webhook=webhook)
    s.update(dispatch_batch=20, channel_concurrency={"webhook": 2})
    ws = _pg_ws(tmp_path, postgres_url, **s)
    webhook.latency = 0.02  # so the two drains overlap
    now = datetime.now(UTC)
    enqueue(ws, [{"idempotency_key": f"k{i}", "channel": "webhook", "payload": {"n": i}}
                 for i in range(200)], now=now)
    results = []
    other = Workspace.open(ws.home)

    def run(w, name):
        results.append(drain(w, now=now, worker=name))

    threads = [threading.Thread(target=run, args=(w, n)) for w, n in ((ws, "a"), (other, "b"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sum(r.sent for r in results) == 200
    assert all(r.claimed > 0 for r in results), [r.claimed for r in results]
    assert len(webhook.received) == 200 and set(webhook.received.values()) == {1}
    other.close()
    ws.close()


def test_reclaim_after_the_lease_on_postgres(tmp_path, postgres_url, webhook):
    ws = _pg_ws(tmp_path, postgres_url, **fake_settings(webhook=webhook))
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    enqueue(ws, [{"idempotency_key": "k", "channel": "webhook", "payload": {}}], now=t0)
    assert [m.attempt for m in claim(ws, t0, 5, worker="dead")] == [1]
    assert claim(ws, t0 + timedelta(seconds=10), 5) == []  # leased
    got = drain(ws, now=t0 + timedelta(seconds=301))
    assert (got.in_doubt, got.sent) == (1, 1)
    ws.close()


def test_a_welcome_from_the_callback_on_postgres(tmp_path, postgres_url, wecom):
    """The callback's transaction (event + nonce + outbox row) and the urgent claim on
    PostgreSQL; a redelivered event queues nothing more."""
    import time

    from siyu.channels.dispatcher import urgent_due
    from siyu.channels.wecom.events import store_event
    from tests.channels.test_welcome import RULES

    ws = _pg_ws(tmp_path, postgres_url, **fake_settings(wecom=wecom))
    (ws.home / "welcome.yaml").write_text(RULES, encoding="utf-8")
    wecom.welcome_codes["PG1"] = False
    ev = {"Event": "change_external_contact", "ChangeType": "add_external_contact",
          "UserID": "guide01", "ExternalUserID": "wmPG", "State": "store_qr",
          "WelcomeCode": "PG1", "CreateTime": str(int(time.time()))}
    assert store_event(ws, ev, nonce=("wecom", "1", "n1"))[1]
    assert not store_event(ws, ev, nonce=("wecom", "1", "n2"))[1]
    assert urgent_due(ws)
    got = drain(ws)
    assert (got.claimed, got.sent) == (1, 1) and not urgent_due(ws)
    assert [w["text"]["content"] for w in wecom.welcomes] == [
        "您好，我是My Brand的小林，很高兴认识您！"]  # the brand_name default
    ws.close()
