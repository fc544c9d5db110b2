"""Nothing lost, nothing sent twice, when the dispatcher is killed (SIGKILL) mid-batch: a
dispatcher subprocess is killed several times while it sends to the fake WeCom server (whose
mass-send API has no idempotency key), then a dispatcher after the lease finishes the job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

from siyu.channels.dispatcher import drain
from siyu.channels.outbox import enqueue
from tests.channels.conftest import fake_settings, write_settings
from tests.channels.helpers import attempts, rows

N = 300


def _spawn(ws):
    env = {**os.environ, "SIYU_HOME": str(ws.home)}
    return subprocess.Popen([sys.executable, "-m", "siyu", "dispatch", "--once", "--json"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_sigkill_mid_batch_loses_nothing_and_sends_nothing_twice(ws, wecom, webhook):
    s = fake_settings(wecom=wecom, webhook=webhook)
    s.update(dispatch_batch=40, channel_concurrency={"wecom": 4, "webhook": 4},
             dispatch_lease_seconds=5, channel_timeout_seconds=5.0)
    write_settings(ws, **s)
    wecom.latency = webhook.latency = 0.02
    now = datetime.now(UTC)
    enqueue(ws, [{"idempotency_key": f"k{i}", "channel": "wecom" if i % 2 else "webhook",
                  "recipient": f"wmc{i}", "guide_id": "guide01",
                  "payload": {"text": f"第 {i} 条：您的专属福利即将过期，是否查看？"}}
                 for i in range(N)], now=now - timedelta(seconds=1))
    kills = 0
    for wait in (0.15, 0.3, 0.05, 0.2):
        seen = len(wecom.requests) + len(webhook.requests)
        p = _spawn(ws)
        deadline = time.monotonic() + 30
        while (len(wecom.requests) + len(webhook.requests) < seen + 5
               and p.poll() is None and time.monotonic() < deadline):
            time.sleep(0.01)  # wait until it is sending, then kill it mid-batch
        time.sleep(wait)
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            kills += 1
        p.wait(10)
    assert kills >= 2, "the dispatcher finished before it could be killed"
    mid = {r.status for r in rows(ws)}
    assert "sending" in mid or "pending" in mid
    # a dispatcher after the lease: reclaims what the killed ones held
    ws.close()
    from siyu.workspace import Workspace

    ws2 = Workspace.open(ws.home)
    got = drain(ws2, now=datetime.now(UTC) + timedelta(seconds=6))
    rs = rows(ws2)
    assert {r.status for r in rs} == {"sent"}, got.as_json()
    assert len(rs) == N
    # WeCom: each recipient in exactly one task, though some attempts were in doubt
    per = wecom.deliveries()
    assert set(per) == {f"wmc{i}" for i in range(N) if i % 2}
    assert set(per.values()) == {1}
    # webhook: every key arrived (resent in-doubt ones carry the same Idempotency-Key)
    assert set(webhook.received) == {f"k{i}" for i in range(N) if i % 2 == 0}
    lost = [a for a in attempts(ws2) if a.outcome == "lost"]
    assert len(lost) >= 1 and got.in_doubt == len({a.outbox_id for a in lost})
    ws2.close()
