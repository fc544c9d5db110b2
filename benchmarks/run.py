"""End-to-end benchmark: generate a brand, import it (Parquet and CSV), resolve identities.

Each step runs the real `siyu` command as a child process; wall time and the child's peak
resident memory (from wait4) are recorded. Results go to benchmarks/out/<stamp>-<N>.json and a
Markdown table is printed for docs/benchmarks.md.

    python benchmarks/run.py --consumers 1000000            # ~6 min on 2 cores
    python benchmarks/run.py --consumers 10000000 --no-csv  # the 10 M figures

The machine is noisy: run each size at least twice and report the median (--repeat).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
SIYU = str(Path(sys.executable).with_name("siyu"))


def run_measured(args: list[str]) -> tuple[float, float, str]:
    """Like :func:`run` but with this child's own peak RSS (wait4), not the running max."""
    t0 = time.perf_counter()
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         env={**os.environ, "SIYU_LANG": "en"})
    chunks = []
    while True:
        b = p.stdout.read(65536)
        if not b:
            break
        chunks.append(b)
    _, status, usage = os.wait4(p.pid, 0)
    seconds = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed with exit code {p.returncode}")
    return seconds, usage.ru_maxrss / 1024, b"".join(chunks).decode()


def one_round(n: int, days: int, seed: int, work: Path, fmt: str) -> dict:
    data = work / f"data-{n}-{fmt}"
    home = work / f"ws-{n}-{fmt}"
    for p in (data, home):
        shutil.rmtree(p, ignore_errors=True)
    res: dict = {"format": fmt}
    s, rss, out = run_measured([SIYU, "generate", "--consumers", str(n), "--days", str(days),
                                "--seed", str(seed), "--out", str(data), "--format", fmt,
                                "--json"])
    gen = json.loads(out)
    res["generate"] = {"seconds": round(s, 1), "peak_rss_mib": round(rss),
                       "rows": sum(gen["rows"].values()), "rows_by_table": gen["rows"],
                       "bytes": sum(f.stat().st_size for f in data.iterdir())}
    run_measured([SIYU, "init", str(home)])
    s, rss, out = run_measured([SIYU, "import", "--all", str(data), "--home", str(home),
                                "--json"])
    imp = json.loads(out)
    res["import"] = {"seconds": round(s, 1), "peak_rss_mib": round(rss), "read": imp["read"],
                     "rows_per_s": round(imp["read"] / s),
                     "tables": {t["table"]: {k: t[k] for k in ("read", "loaded", "rejected",
                                                              "duplicates", "seconds")}
                                for t in imp["tables"]}}
    s, rss, out = run_measured([SIYU, "identity", "resolve", "--home", str(home), "--json"])
    rep = json.loads(out)
    res["identity"] = {"seconds": round(s, 1), "peak_rss_mib": round(rss),
                       "keys": rep.get("keys"), "consumers": rep.get("consumers"),
                       "links": rep.get("links"), "conflicts": rep.get("conflicts"),
                       "stages": rep.get("stages")}
    shutil.rmtree(data, ignore_errors=True)
    shutil.rmtree(home, ignore_errors=True)
    return res


def machine() -> dict:
    mem = next((ln.split()[1] for ln in open("/proc/meminfo") if ln.startswith("MemTotal")), "?")
    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo")
                if ln.startswith("model name")), platform.processor())
    return {"cpus": os.cpu_count(), "cpu": cpu, "mem_gib": round(int(mem) / 2**20),
            "python": platform.python_version()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--consumers", type=int, default=1_000_000)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--no-csv", action="store_true", help="skip the CSV round")
    ap.add_argument("--work", type=Path, default=HERE / "data")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    rounds = []
    for _ in range(args.repeat):
        for fmt in ("parquet",) + (() if args.no_csv else ("csv",)):
            r = one_round(args.consumers, args.days, args.seed, args.work, fmt)
            print(json.dumps(r), flush=True)
            rounds.append(r)
    summary = {"consumers": args.consumers, "days": args.days, "machine": machine(),
               "when": datetime.now(UTC).isoformat(timespec="seconds"), "rounds": rounds}
    out = HERE / "out"
    out.mkdir(exist_ok=True)
    path = out / f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{args.consumers}.json"
    path.write_text(json.dumps(summary, indent=2))
    print(f"\nwritten {path}\n")
    print("| consumers | format | step | median s | rows | rows/s | peak RSS MiB |")
    print("|---|---|---|---|---|---|---|")
    for fmt in ("parquet", "csv"):
        rs = [r for r in rounds if r["format"] == fmt]
        if not rs:
            continue
        for step, rows_key in (("generate", "rows"), ("import", "read"), ("identity", "keys")):
            secs = statistics.median(r[step]["seconds"] for r in rs)
            rows = rs[0][step][rows_key] or 0
            rss = max(r[step]["peak_rss_mib"] for r in rs)
            print(f"| {args.consumers:,} | {fmt} | {step} | {secs:.1f} | {rows:,} | "
                  f"{rows / secs:,.0f} | {rss:,} |")


if __name__ == "__main__":
    main()
