"""Benchmark of the demo brand generator (siyu.demo.generate).

Runs one generation and prints one JSON line: consumers, days, format, rows per table, total
rows, seconds, rows per second and the peak resident memory of the process (MB).

    python benchmarks/bench_generate.py --consumers 1000000 --days 365 --out /tmp/brand
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

from siyu.demo import FORMATS, generate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--consumers", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--format", choices=FORMATS, default="parquet")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    rows = generate(args.out, consumers=args.consumers, days=args.days, seed=args.seed,
                    fmt=args.format)
    seconds = time.perf_counter() - started
    total = sum(rows.values())
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    size_mb = sum(p.stat().st_size for p in args.out.iterdir() if p.is_file()) / 2**20
    print(json.dumps({
        "consumers": args.consumers, "days": args.days, "format": args.format,
        "rows": rows, "total_rows": total, "rows_per_consumer": round(total / args.consumers, 2),
        "seconds": round(seconds, 1), "rows_per_second": round(total / seconds),
        "peak_rss_mb": round(peak_mb), "output_mb": round(size_mb),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
