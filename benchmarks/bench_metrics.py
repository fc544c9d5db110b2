"""Metrics benchmark: every materialised family (siyu.results) for N periods of the generated
brand, on DuckDB (the real `siyu metrics compute` as a child process, with its peak RSS) and,
with ``--spark``, the same families on PySpark local mode over a copy of the warehouse.

    python benchmarks/bench_metrics.py --consumers 1000000 --repeat 3 --spark
    python benchmarks/bench_metrics.py --home /path/to/workspace --periods 12 --copy

Without ``--home`` a brand is generated (Parquet), imported and resolved first under
``--work`` (kept for later runs: ``--home`` it then). The periods are the last ``--periods``
full months of the data. Each round writes the metrics tables into the workspace it times:
``--copy`` times a temporary copy of ``--home`` instead. Prints one JSON line per round (wall
and CPU seconds, load average, peak RSS) and a Markdown table.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
SIYU = str(Path(sys.executable).with_name("siyu"))
sys.path.insert(0, str(HERE))

from run import machine, run_measured  # noqa: E402


def build(consumers: int, days: int, seed: int, work: Path) -> Path:
    data, home = work / f"data-{consumers}", work / f"ws-{consumers}"
    for p in (data, home):
        shutil.rmtree(p, ignore_errors=True)
    subprocess.run([SIYU, "generate", "--consumers", str(consumers), "--days", str(days),
                    "--seed", str(seed), "--out", str(data), "--format", "parquet"],
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run([SIYU, "init", str(home)], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([SIYU, "import", "--all", str(data), "--home", str(home), "--json"],
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run([SIYU, "identity", "resolve", "--home", str(home), "--json"], check=True,
                   stdout=subprocess.DEVNULL)
    shutil.rmtree(data, ignore_errors=True)
    return home


def last_full_months(home: Path, n: int) -> tuple[str, str, int]:
    """The last ``n`` full months of the data, and the number of consumers."""
    from siyu.models.periods import period_of
    from siyu.results.state import data_range
    from siyu.workspace import Workspace

    with Workspace.open(home) as ws:
        _, last = data_range(ws.warehouse.raw)
        consumers = ws.warehouse.raw.execute(
            "SELECT count(DISTINCT consumer_id) FROM identity_map").fetchall()[0][0]
        day = last.astimezone(ws.settings.zone).date()
        p = period_of(day, "month", ws.settings.zone)
        if (p.end - day).days > 1:  # the last month is not over: take the one before
            p = p.previous()
        first = p
        for _ in range(n - 1):
            first = first.previous()
    return str(first), str(p), consumers


def duckdb_round(home: Path, first: str, last: str) -> dict:
    """One timed ``siyu metrics compute --full`` (wall and CPU seconds, peak RSS): on a
    shared machine the CPU seconds compare runs better than the wall time."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    s, rss, out = run_measured([SIYU, "metrics", "compute", "--home", str(home), "--grain",
                                "month", "--from", first, "--to", last, "--full", "--json"])
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    rep = json.loads(out)
    return {"engine": "duckdb", "seconds": round(s, 2), "compute_seconds": rep["seconds"],
            "cpu_seconds": round(cpu, 2), "load": round(os.getloadavg()[0], 2),
            "peak_rss_mib": round(rss), "periods": len(rep["computed"]),
            "batch_periods": rep.get("batch_periods")}


def families(src, periods, batch_size: int, *, cache: bool = True) -> float:
    """Every per-period family and the cohorts for ``periods`` (as compute does, without
    storing); seconds. ``cache=False`` computes the tier pairs inside each family instead of
    once per batch (Ibis 12's PySpark backend cannot ``cache()`` an expression that holds an
    in-memory table such as the periods)."""
    from siyu.models.fast import tier_pairs
    from siyu.results.families import RESULTS, Batch

    t0 = time.perf_counter()
    for i in range(0, len(periods), batch_size):
        chunk = periods[i:i + batch_size]
        if cache:
            with tier_pairs(src, chunk).cache() as pairs:
                _batch(Batch(src, chunk, pairs), RESULTS)
        else:
            _batch(Batch(src, chunk, tier_pairs(src, chunk), keep=False), RESULTS)
    for r in RESULTS:
        if r.whole:
            r.build(Batch(src, periods))
    return time.perf_counter() - t0


def _batch(b, results) -> None:
    try:
        for r in results:
            if not r.whole:
                r.build(b)
    finally:
        b.release()


def spark_round(home: Path, first: str, last: str, repeat: int, cores: int) -> list[dict]:
    """The same families on PySpark local[cores] over a Parquet copy of the warehouse (the
    copy is not timed)."""
    from siyu.models.periods import periods_between
    from siyu.models.sources import Sources
    from siyu.warehouse.spark import copy_warehouse, local_session, spark_backend
    from siyu.workspace import Workspace

    out = []
    with tempfile.TemporaryDirectory(dir=home) as d, Workspace.open(home) as ws:
        session = local_session(Path(d) / "spark", cores=cores, driver_memory="8g",
                                shuffle_partitions=cores * 4)
        backend = spark_backend(session, ws.settings)
        copy_warehouse(ws.warehouse, backend, Path(d) / "parquet")
        src = Sources(backend, ws.settings)
        periods = periods_between(first, last, "month", zone=ws.settings.zone)
        for _ in range(repeat):
            s = families(src, periods, ws.settings.metrics_batch_periods, cache=False)
            out.append({"engine": "spark", "seconds": round(s, 2), "periods": len(periods)})
            print(json.dumps(out[-1]), flush=True)
        session.stop()
    return out


def duckdb_inprocess(home: Path, first: str, last: str) -> dict:
    """The same families in this process on DuckDB (the like-for-like baseline of Spark)."""
    from siyu.models.periods import periods_between
    from siyu.models.sources import Sources
    from siyu.workspace import Workspace

    with Workspace.open(home) as ws:
        periods = periods_between(first, last, "month", zone=ws.settings.zone)
        s = families(Sources.of(ws), periods, ws.settings.metrics_batch_periods, cache=False)
    return {"engine": "duckdb-inprocess", "seconds": round(s, 2), "periods": len(periods)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--consumers", type=int, default=1_000_000)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--periods", type=int, default=12)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--home", type=Path, help="an existing resolved workspace")
    ap.add_argument("--copy", action="store_true",
                    help="time on a temporary copy of --home (the runs write the metrics "
                         "tables into the workspace they time)")
    ap.add_argument("--work", type=Path, default=HERE / "data")
    ap.add_argument("--spark", action="store_true", help="also run on PySpark local mode")
    ap.add_argument("--spark-cores", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args()
    home = args.home
    if home is None:
        args.work.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        home = build(args.consumers, args.days, args.seed, args.work)
        print(f"built {home} in {time.perf_counter() - t0:.0f} s", flush=True)
    if args.copy and args.home is not None:
        tmp = Path(tempfile.mkdtemp(prefix="bench-metrics-"))
        home = tmp / home.name
        shutil.copytree(args.home, home)
        atexit.register(shutil.rmtree, tmp, True)
    first, last, consumers = last_full_months(home, args.periods)
    rounds = []
    for _ in range(args.repeat):
        rounds.append(duckdb_round(home, first, last))
        print(json.dumps(rounds[-1]), flush=True)
    if args.spark:
        base = [duckdb_inprocess(home, first, last) for _ in range(args.repeat)]
        for b in base:
            print(json.dumps(b), flush=True)
        rounds += base + spark_round(home, first, last, args.repeat, args.spark_cores)
    summary = {"consumers": consumers, "periods": [first, last], "machine": machine(),
               "when": datetime.now(UTC).isoformat(timespec="seconds"), "rounds": rounds}
    out = HERE / "out"
    out.mkdir(exist_ok=True)
    path = out / f"{datetime.now(UTC):%Y%m%dT%H%M%S}-metrics-{consumers}.json"
    path.write_text(json.dumps(summary, indent=2))
    print(f"\nwritten {path}\n")
    med = {e: statistics.median(r["seconds"] for r in rounds if r["engine"] == e)
           for e in dict.fromkeys(r["engine"] for r in rounds)}
    print("| consumers | periods | engine | median s | peak RSS MiB |")
    print("|---|---|---|---|---|")
    for e, s in med.items():
        rss = max((r.get("peak_rss_mib", 0) for r in rounds if r["engine"] == e), default=0)
        print(f"| {consumers:,} | {first} … {last} | {e} | {s:.1f} | {rss or '—'} |")
    if "spark" in med:
        print(f"\nSpark / DuckDB (same process, same families): "
              f"{med['spark'] / med['duckdb-inprocess']:.1f}×")


if __name__ == "__main__":
    main()
