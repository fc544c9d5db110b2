"""Console and event-API speed on a copy of a benchmark workspace (the original is never
modified), in-process over httpx's ASGI transport (server time, no network).

- dashboard: `/dashboard?period=P` with the server's result cache emptied before every
  request — first with no stored results (FAST+ of P and P−1 computed from the models), then
  after `siyu metrics compute` of P−1 and P (read from `metrics_*`) — and cached; the CLV
  layering map, which the page fetches from `/api/v1/metrics/layers` after it shows, apart;
- consumer page: `/consumers?key=K` for distinct member keys (never cached), after `siyu
  metrics compute` of the six months of its tier history: first with the tables scanned (no
  consumer index), then after `siyu consumer index` (its build time apart), and once more
  after the event batches below (rows newer than the index read from the tables; the last
  month's stored tiers stale, so that month comes from the tier model);
- event API: `POST /api/v1/events/interactions` in batches of 1,000 rows from several client
  threads at once; events/s = rows loaded ÷ wall time.

    python benchmarks/bench_web.py --workspace benchmarks/data/ws-100000

``--pages-only`` times the consumer page alone on the workspace as it is; with another siyu
tree first on ``PYTHONPATH`` (e.g. ``git archive HEAD src``) it gives an A/B baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

import anyio
import httpx


def _client(app, headers):
    async def go(method, url, **kw):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://bench", headers=headers,
                                     timeout=600) as c:
            return await c.request(method, url, **kw)

    return lambda method, url, **kw: anyio.run(lambda: go(method, url, **kw))


def _timed(call, method, url, **kw) -> float:
    t0 = time.perf_counter()
    r = call(method, url, **kw)
    dt = time.perf_counter() - t0
    assert r.status_code == 200, (url, r.status_code, r.text[:300])
    return dt * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workspace", type=Path, default=Path("benchmarks/data/ws-100000"))
    ap.add_argument("--period", default=None, help="dashboard period [default: last full month]")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--consumers", type=int, default=15, help="consumer pages to open")
    ap.add_argument("--batches", type=int, default=40, help="event batches of 1,000 rows")
    ap.add_argument("--threads", type=int, default=4, help="event API client threads")
    ap.add_argument("--skip-computed", action="store_true",
                    help="skip the dashboard without stored results (slow at 1 M)")
    ap.add_argument("--pages-only", action="store_true",
                    help="only the consumer page, on the workspace as it is (no compute, no "
                         "index built or dropped): for A/B runs against another siyu tree "
                         "put first on PYTHONPATH")
    args = ap.parse_args()

    from siyu.web import create_app
    from siyu.web.auth import create_api_key
    from siyu.web.service import default_period
    from siyu.workspace import Workspace

    tmp = Path(tempfile.mkdtemp(prefix="siyu-bench-web-"))
    try:
        home = tmp / "ws"
        shutil.copytree(args.workspace, home, ignore=shutil.ignore_patterns("web.secret"))
        ws = Workspace.open(home)
        ws.ensure()
        key = create_api_key(ws.ops, "bench", "admin")
        app = create_app(ws)
        state = app.state.siyu
        call = _client(app, {"X-API-Key": key})
        period = args.period or default_period(ws)
        out: dict = {"workspace": str(args.workspace), "consumers":
                     ws.warehouse.raw.execute("SELECT count(DISTINCT consumer_id) "
                                              "FROM identity_map").fetchone()[0],
                     "period": period, "load": os.getloadavg()}

        if args.pages_only:
            keys = [r[0] for r in ws.warehouse.raw.execute(
                "SELECT key FROM identity_map WHERE key_type = 'member' "
                f"ORDER BY hash(key) LIMIT {args.consumers}").fetchall()]
            _timed(call, "GET", f"/consumers?key={keys[0]}")  # first use: imports, plans
            got = [_timed(call, "GET", f"/consumers?key={k}") for k in keys[1:]]
            out["consumer_page_ms"] = {"median": round(statistics.median(got)),
                                       "max": round(max(got)), "pages": len(got)}
            out["load_after"] = os.getloadavg()
            print(json.dumps(out), flush=True)
            ws.close()
            return

        url = f"/dashboard?period={period}"

        def cold_runs() -> list[float]:
            got = []
            for _ in range(args.runs):
                state.cache.clear()
                got.append(_timed(call, "GET", url))
            return got

        computed = [] if args.skip_computed else cold_runs()
        from siyu.models.periods import parse_period
        from siyu.results.compute import compute_metrics

        p = parse_period(period, zone=ws.settings.zone)
        t0 = time.perf_counter()
        compute_metrics(ws, p.grain, str(p.previous()), str(p))  # `siyu metrics compute`
        t_compute = time.perf_counter() - t0
        state.cache.clear()
        stored = cold_runs()
        warm = [_timed(call, "GET", url) for _ in range(args.runs)]
        state.cache.clear()
        last_day = (p.end - timedelta(days=1)).isoformat()
        layers = [_timed(call, "GET", f"/api/v1/metrics/layers?as_of={last_day}")]
        out["dashboard_ms"] = {
            "computed_median": round(statistics.median(computed)) if computed else None,
            "stored_median": round(statistics.median(stored)),
            "cached_median": round(statistics.median(warm), 1),
            "layers_endpoint": round(layers[0]),
            "metrics_compute_s": round(t_compute, 1)}

        from siyu.consumers.index import build_index, drop_index
        from siyu.web.consumers import TIER_HISTORY_MONTHS

        first = p
        for _ in range(TIER_HISTORY_MONTHS - 1):
            first = first.previous()
        t0 = time.perf_counter()
        compute_metrics(ws, p.grain, str(first), str(p))  # the months not stored yet
        out["metrics_compute_history_s"] = round(time.perf_counter() - t0, 1)
        n = args.consumers
        keys = [r[0] for r in ws.warehouse.raw.execute(
            "SELECT key FROM identity_map WHERE key_type = 'member' "
            f"ORDER BY hash(key) LIMIT {3 * n}").fetchall()]

        def page_runs(some: list[str]) -> dict:
            _timed(call, "GET", f"/consumers?key={some[0]}")  # first use: imports, plans
            got = [_timed(call, "GET", f"/consumers?key={k}") for k in some[1:]]
            return {"median": round(statistics.median(got)), "max": round(max(got)),
                    "pages": len(got), "load": os.getloadavg()[0]}

        drop_index(ws)
        out["consumer_page_ms"] = {"tables_scanned": page_runs(keys[:n])}
        t0 = time.perf_counter()
        built = build_index(ws)  # `siyu consumer index`
        out["consumer_index"] = {"seconds": round(time.perf_counter() - t0, 1),
                                 "rows": sum(built.tables.values())}
        out["consumer_page_ms"]["indexed"] = page_runs(keys[n:2 * n])

        def batch(b: int) -> list[dict]:
            return [{"event_id": f"bench-{b}-{i}", "consumer_key": keys[i % len(keys)],
                     "field": "mini_program", "type": "visit",
                     "occurred_at": "2025-12-31 12:00:00"} for i in range(1000)]

        before = ws.warehouse.count("interactions")
        todo = list(range(args.batches))
        lock = threading.Lock()
        failures: list[str] = []

        def worker():
            post = _client(app, {"X-API-Key": key})
            while True:
                with lock:
                    if not todo:
                        return
                    b = todo.pop()
                r = post("POST", "/api/v1/events/interactions", json={"rows": batch(b)})
                if r.status_code != 200 or r.json()["rejected"]:
                    failures.append(r.text[:200])

        t0 = time.perf_counter()
        threads = [threading.Thread(target=worker) for _ in range(args.threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        loaded = ws.warehouse.count("interactions") - before
        assert not failures and loaded == args.batches * 1000, (failures[:2], loaded)
        out["events"] = {"rows": loaded, "batch_rows": 1000, "threads": args.threads,
                         "seconds": round(wall, 2), "events_per_s": round(loaded / wall)}
        out["consumer_page_ms"]["after_events"] = page_runs(keys[2 * n:])
        out["load_after"] = os.getloadavg()
        print(json.dumps(out), flush=True)
        ws.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
