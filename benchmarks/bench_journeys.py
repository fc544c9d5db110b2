"""Journey engine speed (issue 6): one scheduler pass over many active enrolments, and how
fast the engine writes outbox messages on SQLite.

    python benchmarks/bench_journeys.py --enrolments 1000000 --due 20000

Builds a workspace in a temporary folder, deploys a two-message journey (send, wait 30 days,
send), bulk-inserts ``--enrolments`` active enrolments of which ``--due`` are due now (the rest
wait), then times

* ``idle pass``: one engine pass at an instant when nothing is due (the scheduler's floor);
* ``pass``: one engine pass that advances every due enrolment — guardrails (consent, caps,
  quiet hours), one outbox row each, the step log, cap counters, in batches of
  ``journey_batch``; its sends per second is the outbox write rate.

Prints one JSON object (and `uptime`, since the machine is shared; ``pass_cpu_s`` and
``outbox_writes_per_cpu_s``, the pass's CPU time, are what the load does not distort). The
temporary folder is removed at the end.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

JOURNEY = """\
name: bench
title: 压测
trigger: {type: manual}
steps:
  - send: {channel: wecom, template: "{name|亲}，您的专属福利即将过期，是否查看？"}
  - wait: {days: 30}
  - send: {channel: wecom, template: "第二条"}
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--enrolments", type=int, default=1_000_000)
    ap.add_argument("--due", type=int, default=20_000)
    ap.add_argument("--batch", type=int, default=2000)
    args = ap.parse_args()

    from sqlalchemy import func, select

    from siyu.activation.engine import run_pass
    from siyu.activation.store import deploy
    from siyu.ops.tables import journey_enrolments, outbox
    from siyu.workspace import Workspace

    tmp = Path(tempfile.mkdtemp(prefix="bench-journeys-"))
    ws = Workspace.init(tmp / "ws")
    ws.settings.journey_batch = args.batch
    deploy(ws.ops, JOURNEY, actor="bench")
    now = datetime(2025, 3, 3, 2, 0, tzinfo=UTC)  # 10:00 brand time
    later = now + timedelta(days=10)
    t0 = time.perf_counter()
    chunk = 50_000
    with ws.ops.engine.begin() as c:
        for start in range(0, args.enrolments, chunk):
            rows = []
            for i in range(start, min(start + chunk, args.enrolments)):
                at = now - timedelta(minutes=1) if i < args.due else later + timedelta(
                    seconds=i)
                rows.append({"id": f"e{i:031d}", "journey": "bench", "version": 1,
                             "consumer_id": f"c{i:016x}", "trigger_ref": "m",
                             "enrolled_at": at, "step": "s1", "seq": 0, "status": "active",
                             "next_step_at": at, "updated_at": now})
            c.execute(journey_enrolments.insert(), rows)
    load_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    idle = run_pass(ws, now=now - timedelta(hours=1))
    idle_s = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    got = run_pass(ws, now=now)
    pass_s, pass_cpu_s = time.perf_counter() - t0, time.process_time() - c0
    with ws.ops.engine.connect() as c:
        sent = c.execute(select(func.count()).select_from(outbox)).scalar()
        active = c.execute(select(func.count()).select_from(journey_enrolments)
                           .where(journey_enrolments.c.status == "active")).scalar()
    ws.close()
    db_mb = round((tmp / "ws" / "ops.sqlite").stat().st_size / 2**20)
    shutil.rmtree(tmp, ignore_errors=True)
    out = {"enrolments": args.enrolments, "active_after": active, "due": args.due,
           "batch": args.batch, "load_s": round(load_s, 1),
           "idle_pass_s": round(idle_s, 3), "idle_advanced": idle["advanced"],
           "pass_s": round(pass_s, 2), "pass_cpu_s": round(pass_cpu_s, 2),
           "outbox_writes_per_cpu_s": round(got["advanced"] / pass_cpu_s),
           "advanced": got["advanced"], "outbox_rows": sent,
           "outbox_writes_per_s": round(sent / pass_s), "db_mb": db_mb,
           "uptime": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
