"""Where the time of ``siyu metrics compute`` goes: one ``--full`` run of the real
:func:`siyu.results.compute.compute_metrics`, in this process, with

- per stage: the inputs (``Sources.cached``), the tier pairs, each family, the stores —
  wall and CPU seconds of this process;
- every engine table kept for the run (``Table.cache()``): its wall seconds and where it
  was asked for;
- the costliest queries and engine operators (DuckDB's profiler; operator seconds are summed
  over the engine's threads, so they add up to more than the wall time).

    python benchmarks/profile_metrics.py --home benchmarks/data/ws-1000000 \\
        --from 2025-01 --to 2025-12

It writes the metrics tables into ``--home`` (as ``bench_metrics.py`` does): use a copy when
the workspace matters. Timings carry the profiler's own small cost; compare stages within a
run, and runs on the same machine in the same session.
"""

from __future__ import annotations

import argparse
import collections
import json
import resource
import sys
import time
import traceback
from contextlib import contextmanager, nullcontext
from pathlib import Path


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class Profile:
    """What one run recorded."""

    def __init__(self) -> None:
        self.stage = "start"
        self.stages: dict[str, list[float]] = {}
        self.caches: list[tuple[float, str, str]] = []
        self.queries: list[tuple[float, float, str, str]] = []
        self.operators: collections.Counter = collections.Counter()
        self.pairs = None
        """The tier pairs expression of the batch being computed (its cache is timed as
        stage ``tier_pairs``)."""

    @contextmanager
    def timed(self, name: str):
        """Time a block as stage ``name`` (nested stages are counted in their own)."""
        outer, self.stage = self.stage, name
        t, c = time.perf_counter(), cpu_seconds()
        try:
            yield
        finally:
            acc = self.stages.setdefault(name, [0.0, 0.0])
            acc[0] += time.perf_counter() - t
            acc[1] += cpu_seconds() - c
            self.stage = outer

    def walk(self, node: dict) -> None:
        name = node.get("operator_type")
        if name:
            self.operators[(self.stage, name)] += node.get("operator_timing", 0.0)
        for child in node.get("children", []):
            self.walk(child)


def instrument(prof: Profile, raw) -> None:
    """Patch Ibis's DuckDB backend, ``Table.cache`` and the families to record into
    ``prof`` (this process only)."""
    import ibis
    from ibis.backends.duckdb import Backend

    import siyu.models.fast as fast
    from siyu.models.sources import Sources
    from siyu.results import compute, families

    raw.execute("SET enable_profiling = 'no_output'")
    raw.execute("SET profiling_mode = 'detailed'")

    def after_query(kind: str) -> None:
        try:
            info = json.loads(raw.get_profiling_information(format="json"))
        except Exception:  # statements the profiler does not cover
            return
        text = " ".join(str(info.get("query_name", "")).split())[:100]
        prof.queries.append((info.get("latency", 0.0), info.get("cpu_time", 0.0),
                             f"{prof.stage} {kind}", text))
        prof.walk(info)

    for meth in ("to_pyarrow", "insert"):
        orig = getattr(Backend, meth)

        def wrapped(self, *a, _orig=orig, _kind=meth, **k):
            out = _orig(self, *a, **k)
            after_query(_kind)
            return out
        setattr(Backend, meth, wrapped)

    orig_cache = ibis.Table.cache

    def cache(self):
        frames = traceback.extract_stack(limit=5)[:-1]
        where = " < ".join(f"{f.name}:{f.lineno}" for f in reversed(frames[-3:]))
        cols = list(self.columns)
        where += f" ({', '.join(cols[:5])}{', …' if len(cols) > 5 else ''})"
        pairs = self is prof.pairs
        with prof.timed("tier_pairs") if pairs else nullcontext():
            t = time.perf_counter()
            out = orig_cache(self)
            prof.caches.append((time.perf_counter() - t, prof.stage, where))
        return out
    ibis.Table.cache = cache

    orig_cached = Sources.cached

    @contextmanager
    def cached(self):
        with prof.timed("inputs"):
            cm = orig_cached(self)
            src = cm.__enter__()
        try:
            yield src
        finally:
            cm.__exit__(*sys.exc_info())
    Sources.cached = cached

    orig_pairs = fast.tier_pairs

    def tier_pairs(*a, **k):
        prof.pairs = orig_pairs(*a, **k)
        return prof.pairs
    fast.tier_pairs = tier_pairs

    for r in families.RESULTS:
        def build(batch, _b=r.build, _name=r.name):
            with prof.timed(_name):
                return _b(batch)
        object.__setattr__(r, "build", build)

    orig_replace = compute._replace

    def replace(*a, **k):
        with prof.timed("store"):
            return orig_replace(*a, **k)
    compute._replace = replace


def report(prof: Profile, total: tuple[float, float], top: int) -> str:
    lines = [f"total {total[0]:.2f} s wall, {total[1]:.2f} s CPU", "",
             "stage                      wall s   CPU s"]
    for name, (w, c) in sorted(prof.stages.items(), key=lambda kv: -kv[1][0]):
        lines.append(f"{name:24s} {w:8.2f} {c:7.2f}")
    lines += ["", f"engine tables kept (Table.cache): {len(prof.caches)}, "
              f"{sum(c[0] for c in prof.caches):.2f} s", "  wall s  stage / asked by"]
    for w, stage, where in sorted(prof.caches, reverse=True)[:top]:
        lines.append(f"{w:8.2f}  {stage} / {where}")
    lines += ["", "queries (latency, CPU s, stage, start of the SQL)"]
    for lat, c, stage, text in sorted(prof.queries, reverse=True)[:top]:
        lines.append(f"{lat:7.2f} {c:7.2f}  {stage:28s} {text[:70]}")
    lines += ["", "operators (s summed over threads, stage)"]
    for (stage, op), s in prof.operators.most_common(top):
        lines.append(f"{s:7.2f}  {op:20s} {stage}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", type=Path, required=True, help="a resolved workspace")
    ap.add_argument("--grain", default="month")
    ap.add_argument("--from", dest="first", required=True, help="first period (2025-01)")
    ap.add_argument("--to", dest="last", required=True, help="last period (2025-12)")
    ap.add_argument("--top", type=int, default=20, help="rows per list")
    args = ap.parse_args()

    from siyu.results.compute import compute_metrics
    from siyu.workspace import Workspace

    prof = Profile()
    with Workspace.open(args.home) as ws:
        instrument(prof, ws.warehouse.raw)
        t, c = time.perf_counter(), cpu_seconds()
        rep = compute_metrics(ws, args.grain, args.first, args.last, full=True)
        total = (time.perf_counter() - t, cpu_seconds() - c)
    print(f"{len(rep.computed)} periods, batches of {rep.batch_periods}")
    print(report(prof, total, args.top))


if __name__ == "__main__":
    main()
