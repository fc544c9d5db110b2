"""OneID benchmark: resolve identities for a synthetic brand and time it.

Builds ``key_seen`` and ``identity_links`` directly with DuckDB SQL in a temporary workspace
(not through the demo generator, so building stays fast), then times only
``siyu.identity.resolve`` and prints one JSON line::

    python benchmarks/bench_oneid.py --consumers 1000000

Consumer ``i`` holds 1..(2k-1) keys (mean k = ``--keys-per-consumer``) of the types phone,
unionid, openid, member, wecom… chained by links in random orientation; one consumer in a
thousand also links its unionid to the next consumer's phone at a later time, which the guard
(§3) must refuse.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SLOT_TYPES = ("phone", "unionid", "openid", "member", "wecom", "tmall", "douyin", "pos",
              "email", "anon")


def build(ws, consumers: int, keys_per_consumer: float, seed: int,
          seen_rows: float = 1.0, tied_share: float = 0.0) -> dict:
    """Fill ``key_seen`` and ``identity_links`` of ``ws`` with a synthetic brand; each key gets
    1..(2r-1) registry rows (mean r = ``seen_rows``), as if seen in that many tables, and a
    share ``tied_share`` of the consumers has all its keys first seen at one time (as when a
    member record brings phone, unionid… at once), so the oldest key is decided by key
    order."""
    con = ws.warehouse.raw
    spread = max(1, min(len(SLOT_TYPES), round(2 * keys_per_consumer - 1)))
    types = "[" + ", ".join(f"'{t}'" for t in SLOT_TYPES) + "]"
    con.execute(f"""
        CREATE TEMP TABLE bench_keys AS
        WITH c AS (
            SELECT range AS i, 1 + (hash(range, {seed}) % {spread})::INTEGER AS k
            FROM range({consumers})
        ), s AS (
            SELECT i, unnest(range(k)) AS j FROM c
        )
        SELECT i, j,
            CASE WHEN j = 0 THEN 'phone:1' || lpad((3000000000 + i)::VARCHAR, 10, '0')
                 ELSE {types}[j + 1] || ':' || (i * 7919 + j * 104729 + {seed})::VARCHAR
            END AS key,
            {types}[j + 1] AS key_type,
            TIMESTAMPTZ '2019-01-01 00:00:00+00' + to_seconds((CASE
                WHEN hash(i, {seed} + 3) % 10000 < {round(tied_share * 10000)}
                THEN hash(i, {seed}) ELSE hash(i, j, {seed}) END % 150000000)::BIGINT)
                AS first_seen
        FROM s
    """)
    rows = max(1, round(2 * seen_rows - 1))
    con.execute(f"""
        INSERT INTO key_seen
        SELECT key, key_type, first_seen + to_seconds(86400 * t), first_seen + INTERVAL 30 DAY,
               1, 'table' || t, 'bench'
        FROM (SELECT *, unnest(range(1 + (hash(i, j, {seed} + 2) % {rows})::INTEGER)) AS t
              FROM bench_keys)
    """)
    con.execute(f"""
        INSERT INTO identity_links (key_a, key_b, source, observed_at)
        SELECT CASE WHEN hash(a.i, a.j, {seed} + 1) % 2 = 0 THEN a.key ELSE b.key END,
               CASE WHEN hash(a.i, a.j, {seed} + 1) % 2 = 0 THEN b.key ELSE a.key END,
               'bench',
               greatest(a.first_seen, b.first_seen) + INTERVAL 1 DAY
        FROM bench_keys a JOIN bench_keys b ON a.i = b.i AND b.j = a.j + 1
    """)
    con.execute("""
        INSERT INTO identity_links (key_a, key_b, source, observed_at)
        SELECT a.key, b.key, 'bench_cross', TIMESTAMPTZ '2030-01-01 00:00:00+00'
        FROM bench_keys a JOIN bench_keys b ON b.i = a.i + 1 AND b.j = 0
        WHERE a.j = 1 AND a.i % 1000 = 7
    """)
    con.execute("DROP TABLE bench_keys")
    con.execute("CHECKPOINT")
    return {"key_seen_rows": ws.warehouse.count("key_seen"),
            "link_rows": ws.warehouse.count("identity_links")}



def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--consumers", type=int, default=1_000_000)
    p.add_argument("--keys-per-consumer", type=float, default=2.5)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--seen-rows", type=float, default=1.0,
                   help="Mean key_seen rows per key (one per table the key appears in; the "
                        "generated brand has about 3.4).")
    p.add_argument("--tied-share", type=float, default=0.0,
                   help="Share of consumers whose keys are all first seen at one time (the "
                        "generated brand: about 0.74 of its consumers).")
    p.add_argument("--dir", type=Path, default=None,
                   help="Workspace folder to create and keep (default: a temporary one).")
    p.add_argument("--runs", type=int, default=1,
                   help="Resolve this many times (later runs compare with the previous map).")
    p.add_argument("--build-only", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    from siyu.workspace import Workspace

    if args.build_only:  # child process: keeps the build's memory out of the measurement
        ws = Workspace.init(args.dir)
        print(json.dumps(build(ws, args.consumers, args.keys_per_consumer, args.seed,
                               args.seen_rows, args.tied_share)))
        ws.close()
        return

    from siyu.identity import resolve

    with tempfile.TemporaryDirectory(prefix="siyu-bench-oneid-") as tmp:
        home = args.dir or Path(tmp) / "ws"
        t0 = time.perf_counter()
        child = subprocess.run(
            [sys.executable, __file__, "--build-only", "--dir", str(home),
             "--consumers", str(args.consumers), "--keys-per-consumer",
             str(args.keys_per_consumer), "--seed", str(args.seed),
             "--seen-rows", str(args.seen_rows), "--tied-share", str(args.tied_share)],
            check=True, capture_output=True, text=True)
        built = json.loads(child.stdout.strip().splitlines()[-1])
        build_s = time.perf_counter() - t0
        ws = Workspace.open(home)
        for run in range(args.runs):
            t0 = time.perf_counter()
            report = resolve(ws)
            seconds = time.perf_counter() - t0
            peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(json.dumps({
                "bench": "oneid", "run": run + 1, "consumers": report.consumers,
                "keys": report.keys, "links": report.links,
                "multi_key_consumers": report.multi_key_consumers,
                "largest_component": report.largest_component, "conflicts": report.conflicts,
                "unchanged": report.unchanged, "seconds": round(seconds, 2),
                "peak_rss_mb": round(peak_mb), "build_seconds": round(build_s, 1),
                "input": built, "stages": report.stages, "cpus": os.cpu_count(),
            }), flush=True)
        ws.close()


if __name__ == "__main__":
    sys.exit(main())
