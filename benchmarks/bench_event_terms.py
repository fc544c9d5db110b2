"""Single event-window terms counted on a workspace with its bitmap index: wall and CPU time
per count (median and max of ``--runs``), the count, and where each term came from
(``--explain``: the recency bitmaps, the key map, or the warehouse join).

    python benchmarks/bench_event_terms.py --home benchmarks/data/aud10m/ws-10000000 \\
        --as-of 2025-12-31 --runs 3

The workspace is only read. Counts run in-process, as the API and console call them.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from datetime import date

from siyu.audience import count
from siyu.workspace import Workspace

TERMS = (
    'views(last 30d, category = "抗衰老", dwell >= 180) >= 2',  # seed 001 §3.1
    'orders(last 90d, field = "shop") >= 1',
    'orders(last 90d) >= 5',
    'visits(last 90d, field = "mini_program") >= 1',
    'visits(last 90d, field = "mini_program") < 1',
    'messages(last 180d, field = "group_chat") >= 1',
    'gmv(last 90d) >= 500',
    'purchase_days(last 365d) >= 2',
    'visits(last 90d) >= 1',
)


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--home", required=True)
    ap.add_argument("--as-of", type=date.fromisoformat, required=True)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    ws = Workspace.open(a.home)
    rows = []
    try:
        for text in TERMS:
            walls, cpus = [], []
            for _ in range(a.runs):
                c0, t0 = _cpu(), time.perf_counter()
                got = count(ws, text, a.as_of, explain=True)
                walls.append((time.perf_counter() - t0) * 1000)
                cpus.append(_cpu() - c0)
            term = got["terms"][0]
            rows.append({"term": text, "count": got["count"], "from": term["from"],
                         "why": term["why"], "wall_ms_median": round(statistics.median(walls)),
                         "wall_ms_max": round(max(walls)),
                         "cpu_s_median": round(statistics.median(cpus), 2)})
            print(json.dumps(rows[-1], ensure_ascii=False), file=sys.stderr, flush=True)
    finally:
        ws.close()
    print("| term | consumers | from | median / max ms | CPU s |")
    print("|---|---:|---|---:|---:|")
    for r in rows:
        src = r["from"] + (" (key map)" if ("key map" in r["why"] or "键映射" in r["why"]) else "")
        print(f"| `{r['term']}` | {r['count']:,} | {src} | {r['wall_ms_median']:,} / "
              f"{r['wall_ms_max']:,} | {r['cpu_s_median']} |")


if __name__ == "__main__":
    main()
