"""Two workers on one PostgreSQL store (a real server started by the test set-up) never
process an enrolment twice: SKIP LOCKED claims, row locks and per-consumer advisory locks.
The same on SQLite, where a batch is claimed and advanced under the one write lock."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from siyu.activation.clock import now_utc
from siyu.activation.engine import enrol_many
from siyu.activation.store import definition, deploy
from siyu.ops.tables import journey_enrolments, journey_log, outbox, send_counters
from siyu.workspace import Workspace

N = 1500
TRIO = """\
name: trio
title: 三件事
trigger: {type: manual}
steps:
  - send: {channel: wecom, template: "一"}
  - send: {channel: sms, template: "二"}
  - webhook: {url: "http://127.0.0.1:9/hook", body: {event: trio}}
"""
DUO = """\
name: duo
title: 再一次
trigger: {type: manual}
steps:
  - send: {channel: wecom, template: "再一"}
"""
CHILD = """
import json, os, sys, time
from siyu.activation.runner import worker
from siyu.workspace import Workspace
ws = Workspace.open(sys.argv[1])
print("ready", flush=True)
while not os.path.exists(sys.argv[2]):
    time.sleep(0.01)
got = worker(ws, once=True, worker_id=sys.argv[3])
print(json.dumps(got), flush=True)
"""


@pytest.fixture(params=["postgresql", "sqlite"])
def store_url(request) -> str:
    """The ops store: a fresh database on the session's PostgreSQL server, or the
    workspace's own SQLite file ("")."""
    return request.getfixturevalue("postgres_url") if request.param == "postgresql" else ""


def test_two_workers_never_double_process(tmp_path, monkeypatch, store_url):
    monkeypatch.setenv("SIYU_OPS_URL", store_url)
    # quiet hours off: the real clock decides when the sends are due
    env = {**os.environ, "SIYU_OPS_URL": store_url, "SIYU_JOURNEY_BATCH": "25",
           "SIYU_QUIET_HOURS_START": "00:00", "SIYU_QUIET_HOURS_END": "00:00"}
    ws = Workspace.init(tmp_path / "ws")
    deploy(ws.ops, TRIO, actor="t")
    deploy(ws.ops, DUO, actor="t")
    at = now_utc() - timedelta(hours=1)
    with ws.ops.engine.begin() as c:  # 1000 consumers in trio, 500 of them in duo too
        enrol_many(c, definition(c, "trio", 1), 1,
                   [(f"c{i:016x}", at, "m") for i in range(1000)])
        enrol_many(c, definition(c, "duo", 1), 1,
                   [(f"c{i:016x}", at, "m") for i in range(0, 1000, 2)])
    ws.close()
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path / "ws"), str(go),
                               f"w{k}"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for k in (1, 2)]
    for p in procs:
        assert p.stdout.readline().strip() == "ready", p.stderr.read()
    go.touch()
    results = []
    for p in procs:
        out, errs = p.communicate(timeout=120)
        assert p.returncode == 0, errs
        results.append(json.loads(out.strip().splitlines()[-1]))
    advanced = [r["advanced"] for r in results]
    assert sum(advanced) == N, advanced  # none twice, none left
    if store_url:
        # PostgreSQL: SKIP LOCKED lets both work at once. (SQLite serialises writers and its
        # lock is not fair between processes: under load one worker may take every batch.)
        assert min(advanced) > 0, advanced

    ws = Workspace.open(tmp_path / "ws")
    with ws.ops.engine.connect() as c:
        status = dict(c.execute(select(journey_enrolments.c.status, func.count())
                                .group_by(journey_enrolments.c.status)).all())
        steps = Counter(tuple(r) for r in c.execute(
            select(journey_log.c.enrolment_id, journey_log.c.step)
            .where(journey_log.c.kind == "step")))
        per = Counter((r[0], r[1]) for r in c.execute(select(outbox.c.enrolment_id,
                                                              outbox.c.channel)))
        supp = Counter(r[0] for r in c.execute(select(journey_log.c.reason)
                                                .where(journey_log.c.kind == "suppressed")))
        top = c.execute(select(func.max(send_counters.c.count))).scalar()
    ws.close()
    assert status == {"done": N}
    assert len(steps) == 3 * 1000 + 500 and set(steps.values()) == {1}
    # the 500 consumers in both journeys get one WeCom message a day: the other is capped
    assert supp == {"cap_channel_day": 500}
    assert Counter(ch for _e, ch in per) == {"wecom": 1000, "sms": 1000, "webhook": 1000}
    assert max(per.values()) == 1 and top == 2  # a week counter: wecom + sms
