"""Import throughput on one synthetic table, in-process (no generator needed).

Writes N order rows (default 2,000,000; unique ids, member keys, naive local timestamps,
amounts, a 30th refunded) as Parquet and CSV with DuckDB, then times `import_files` into a
fresh workspace for each format, three runs each, and prints one JSON line per format with
the median seconds and rows/s.

    python benchmarks/bench_import.py --rows 2000000
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import duckdb

from siyu.ingest import import_files
from siyu.workspace import Workspace


def make_files(n: int, d: Path) -> dict[str, Path]:
    c = duckdb.connect()
    c.execute(f"""
        CREATE TABLE o AS SELECT 'o' || i AS order_id, 'member:M' || (i % 500000) AS consumer_key,
          strftime(TIMESTAMP '2025-01-01' + to_seconds(i * 13 % 31536000), '%Y-%m-%d %H:%M:%S')
            AS paid_at,
          round((i % 1000) * 1.37, 2) AS amount,
          CASE WHEN i % 30 = 0 THEN 'refunded' ELSE 'paid' END AS status,
          'guide' AS field, 'g' || (i % 100) AS guide_id
        FROM range({n}) t(i)""")
    files = {"parquet": d / "orders.parquet", "csv": d / "orders.csv"}
    c.execute(f"COPY o TO '{files['parquet']}' (FORMAT parquet)")
    c.execute(f"COPY o TO '{files['csv']}' (HEADER)")
    return files


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    d = Path(tempfile.mkdtemp(prefix="siyu-bench-import-"))
    try:
        files = make_files(args.rows, d)
        for fmt, f in files.items():
            times = []
            for i in range(args.runs):
                ws = Workspace.init(d / f"ws-{fmt}-{i}")
                t0 = time.perf_counter()
                r = import_files(ws, "orders", [f])
                times.append(time.perf_counter() - t0)
                assert r.loaded == args.rows, r
                ws.close()
                shutil.rmtree(ws.home)
            med = statistics.median(times)
            print(json.dumps({"format": fmt, "rows": args.rows, "runs": [round(t, 2) for t in times],
                              "median_s": round(med, 2), "rows_per_s": round(args.rows / med),
                              "peak_rss_mib": round(resource.getrusage(
                                  resource.RUSAGE_SELF).ru_maxrss / 1024)}), flush=True)
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
