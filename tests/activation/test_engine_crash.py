"""Reliability: the engine killed with SIGKILL at random points ≥ 20 times during a run over
thousands of enrolments, restarted each time, ends exactly where an uninterrupted run ends —
no message in the outbox twice, none missing, no step run twice, caps never exceeded."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta

from sqlalchemy import func, select

from siyu.activation.clock import set_sim_now
from siyu.activation.consent import record_change
from siyu.activation.engine import enrol_many
from siyu.activation.store import definition, deploy
from siyu.ops.tables import journey_enrolments, journey_log, outbox, send_counters
from siyu.workspace import Workspace
from tests.activation.journey_support import local

N = 3000
FOUR = """\
name: four
title: 四连
trigger: {type: manual}
steps:
  - send: {channel: wecom, template: "一"}
  - wait: {days: 1}
  - send: {channel: wecom, template: "二"}
  - wait: {days: 1}
  - send: {channel: sms, template: "三"}
  - wait: {days: 1}
  - send: {channel: wecom, template: "四"}
  - send: {channel: wecom, purpose: service, template: "服务"}
"""
MON = local("2025-03-03 10:00")
CHILD = """
import sys
from datetime import timedelta
from siyu.activation.clock import parse_instant
from siyu.activation.runner import run_until
from siyu.workspace import Workspace
ws = Workspace.open(sys.argv[1])
z = ws.settings.zone
print("ready", flush=True)
run_until(ws, parse_instant("2025-03-08", z), tick=timedelta(hours=3),
          deliver=False)
"""


def _cid(i: int) -> str:
    return f"c{i:016x}"


def _setup(home):
    ws = Workspace.init(home)
    deploy(ws.ops, FOUR, actor="t")
    with ws.ops.engine.begin() as c:
        j = definition(c, "four", 1)
        enrol_many(c, j, 1, [(_cid(i), MON + timedelta(hours=i % 8), "m") for i in range(N)])
        set_sim_now(c, local("2025-03-03 00:00"))
    for i in range(0, N, 10):  # every 10th consumer revoked SMS marketing
        record_change(ws.ops, consumer_id=_cid(i), purpose="marketing", channel="sms",
                      granted=False, actor="test")
    ws.close()


def _progress(ws) -> int:
    with ws.ops.engine.connect() as c:
        return c.execute(select(func.count()).select_from(journey_log)
                         .where(journey_log.c.kind == "step")).scalar()


def test_sigkill_at_random_points(tmp_path):
    home = tmp_path / "ws"
    _setup(home)
    env = {**os.environ, "SIYU_JOURNEY_LEASE_SECONDS": "1", "SIYU_JOURNEY_BATCH": "50"}
    # the engine as `siyu run --until` drives it, without the start-up of the whole CLI
    cmd = [sys.executable, "-c", CHILD, str(home)]
    rng = random.Random(6)
    ws = Workspace.open(home)
    kills = interrupted = 0
    t0 = time.monotonic()
    while kills < 20:
        before = _progress(ws)
        p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        p.stdout.readline()  # started: kill it at a random point of its work, once it has
        # committed a random share (≤ 1/30) of all the steps since its start
        target = before + rng.randint(1, 8 * N // 30)
        while p.poll() is None and _progress(ws) < target:
            time.sleep(0.005)
        time.sleep(rng.uniform(0, 0.05))  # somewhere inside a later transaction
        if p.poll() is not None:  # finished before the kill
            assert p.returncode == 0, p.stderr.read().decode()
            break
        p.send_signal(signal.SIGKILL)
        p.wait()
        kills += 1
        interrupted += _progress(ws) > before
    assert kills >= 20 and interrupted >= 10, (kills, interrupted)
    time.sleep(1.1)  # leases of the last killed run expire
    for _ in range(2):  # to the end, then one more pass for anything still leased
        r = subprocess.run(cmd, env=env, capture_output=True, timeout=120)
        assert r.returncode == 0, r.stderr.decode()
        time.sleep(1.1)
    assert time.monotonic() - t0 < 90

    with ws.ops.engine.connect() as c:
        status = dict(c.execute(select(journey_enrolments.c.status, func.count())
                                .group_by(journey_enrolments.c.status)).all())
        rows = c.execute(select(outbox.c.consumer_id, outbox.c.payload, outbox.c.channel,
                                outbox.c.next_attempt_at)).all()
        steps = Counter(tuple(r) for r in c.execute(
            select(journey_log.c.enrolment_id, journey_log.c.step)
            .where(journey_log.c.kind == "step")))
        supp = Counter(r[0] for r in c.execute(select(journey_log.c.reason)
                                                .where(journey_log.c.kind == "suppressed")))
        top = c.execute(select(func.max(send_counters.c.count))
                        .where(send_counters.c.bucket.like("w:%"))).scalar()
        top_day = c.execute(select(func.max(send_counters.c.count))
                            .where(send_counters.c.bucket.like("d:%"))).scalar()
    ws.close()
    assert status == {"done": N}
    per = Counter((r[0], r[1]["step"]) for r in rows)
    assert max(per.values()) == 1  # no message twice
    revoked = {_cid(i) for i in range(0, N, 10)}
    expected = set()
    for i in range(N):
        c = _cid(i)
        expected |= {(c, "s1"), (c, "s3"), (c, "s8")}
        # SMS revoked → s5 suppressed (consent), so the week has room for s7
        expected |= {(c, "s7")} if c in revoked else {(c, "s5")}
    assert set(per) == expected  # none missing, none extra
    assert supp == {"consent": len(revoked), "cap_week": N - len(revoked)}
    assert set(steps.values()) == {1} and len(steps) == 8 * N  # no step run twice
    assert top == 3 and top_day == 1
