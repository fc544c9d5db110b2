"""Audience benchmark: build the bitmap index of a resolved brand and time instant counts.

    python benchmarks/bench_audience.py                                  # 1 M brand
    python benchmarks/bench_audience.py --source benchmarks/data/ws-10000000 --work /big/tmp

Steps, on a *copy* of ``--source`` (a workspace after ``siyu import --all`` and ``siyu identity
resolve``; the copy is made once under ``--work`` and reused, the source is never touched):

1. inputs the index needs that the source may lack, written by this script: ``tag_values``
   (30 synthetic tags of 5–63 % prevalence, every third with 4 values, drawn from a hash of
   the consumer id) and ``clv_predictions`` (synthetic churn deciles and totals). Real
   ``siyu tag compute`` / ``siyu clv predict`` output would do the same job;
2. ``build_index`` at ``--as-of`` (tier and RFM computed at that day);
3. ``--counts`` counts of random expressions of 1–10 terms over tags, tag values, tier, RFM
   segment, CLV and churn deciles, gender and city, nested and/or/not (median, p90, p99, max);
4. ``--event-counts`` counts of such expressions with one event-window term (an
   ``orders``/``visits``/``messages`` window compared with 1 or 2: the index's event recency
   answers it), and ``--filtered-counts`` with one such term filtered on a field (computed
   in the warehouse and combined);
5. ``--check`` small random trees (2–3 terms, the first with an event window) counted on the
   index and in the warehouse: the bench stops if they differ (not timed in 3 and 4);
6. two saved audiences refreshed at ``--as-of`` and on the first of its month (a diff), and
   the bigger one exported to CSV (``--skip-refresh`` leaves this out);
7. one ``siyu audience count --json`` as a child process (start-up included).

Results go to ``benchmarks/out/<time>-audience-<consumers>.json`` and a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

from siyu.audience import And, Compare, EventAgg, Not, Or, TagTerm, count, to_text
from siyu.audience.ast import EventFilter
from siyu.audience.index import build_index
from siyu.models.rfm import SEGMENTS
from siyu.workspace import Workspace

ROOT = Path(__file__).resolve().parent
N_TAGS = 30
CITIES = ("上海", "北京", "广州", "深圳", "杭州", "成都", "武汉", "南京")


def copy_workspace(source: Path, work: Path) -> Path:
    dest = work / source.name
    if not (dest / "siyu.toml").exists():
        print(f"copying {source} → {dest}", file=sys.stderr)
        shutil.copytree(source, dest, ignore=shutil.ignore_patterns("tmp", "index"))
    return dest


def synthetic_inputs(ws: Workspace) -> dict[str, int]:
    raw = ws.warehouse.raw
    raw.execute(f"""
        CREATE OR REPLACE TABLE tag_values AS
        WITH ids AS (SELECT DISTINCT consumer_id FROM identity_map)
        SELECT consumer_id, 'bench' AS tag_group, 'tag_' || t.i AS tag,
               CASE WHEN t.i % 3 = 0 THEN 'v' || (hash(consumer_id, t.i, 'v') % 4) END AS value,
               'rule' AS kind, 'bench' AS source, '1' AS rule_version,
               TIMESTAMP '2025-12-31 12:00' AS computed_at
        FROM ids, range({N_TAGS}) t(i)
        WHERE hash(consumer_id, t.i) % 100 < 5 + 2 * t.i""")
    raw.execute("""
        CREATE OR REPLACE TABLE clv_predictions AS
        SELECT consumer_id, CAST(hash(consumer_id, 'churn') % 10 + 1 AS BIGINT) AS churn_decile,
               CAST(hash(consumer_id, 'clv') % 100000 AS DOUBLE) / 100 AS total
        FROM (SELECT DISTINCT consumer_id FROM orders o JOIN identity_map m
              ON o.consumer_key = m.key)""")
    return {t: ws.warehouse.count(t) for t in ("tag_values", "clv_predictions")}


def random_term(rng: random.Random):
    kind = rng.choice(("tag", "tag", "tag_value", "tier", "rfm", "clv", "churn", "gender",
                       "city"))
    if kind == "tag":
        return TagTerm(f"tag_{rng.randrange(N_TAGS)}")
    if kind == "tag_value":
        return TagTerm(f"tag_{3 * rng.randrange(N_TAGS // 3)}", f"v{rng.randrange(4)}")
    if kind == "tier":
        return Compare("tier", rng.choice((">=", "=", "<=")), rng.randrange(0, 6))
    if kind == "rfm":
        return Compare("rfm", rng.choice(("=", "!=")), rng.choice(tuple(SEGMENTS)))
    if kind in ("clv", "churn"):
        return Compare(f"{kind}_decile", rng.choice((">=", "<=", "=")), rng.randrange(1, 11))
    if kind == "gender":
        return Compare("gender", "=", rng.choice(("male", "female")))
    return Compare("city", "in", tuple(rng.sample(CITIES, rng.randrange(1, 4))))


def random_tree(rng: random.Random, n_terms: int, event: bool = False,
                filtered: bool = False):
    """``filtered``: the event term has a field filter, so the recency bitmaps cannot answer
    it and the warehouse counts it."""
    items = [random_term(rng) for _ in range(n_terms)]
    if event:
        kind = rng.choice(("orders", "visits", "messages"))
        where = ((EventFilter("field", "=", "shop" if kind == "orders" else "mini_program"),)
                 if filtered else ())
        items[rng.randrange(n_terms)] = EventAgg(kind, rng.choice((30, 90)), "d", ">=",
                                                 rng.randrange(1, 3), where)
    items = [Not(i) if rng.random() < 0.2 else i for i in items]
    while len(items) > 1:  # nest: combine two to four neighbours at a time
        k = min(len(items), rng.randrange(2, 5))
        i = rng.randrange(len(items) - k + 1)
        group = tuple(items[i:i + k])
        node = And(group) if rng.random() < 0.6 else Or(group)
        items[i:i + k] = [node]
    return items[0]


def quantiles(ms: list[float]) -> dict[str, float]:
    s = sorted(ms)

    def q(p):
        return round(s[min(len(s) - 1, int(round(p * (len(s) - 1))))], 1)

    return {"n": len(s), "median": round(statistics.median(s), 1), "p90": q(0.9),
            "p99": q(0.99), "max": round(s[-1], 1)}


def timed_counts(ws, trees, as_of) -> list[float]:
    ms = []
    for tree in trees:
        t0 = time.perf_counter()
        count(ws, tree, as_of)
        ms.append((time.perf_counter() - t0) * 1000)
    return ms


def checked_counts(ws, trees, as_of) -> list[dict]:
    """Each tree counted on the index and in the warehouse: they must agree."""
    out = []
    for tree in trees:
        t0 = time.perf_counter()
        got = count(ws, tree, as_of)["count"]
        ix = (time.perf_counter() - t0) * 1000
        t0 = time.perf_counter()
        want = count(ws, tree, as_of, use_index=False)["count"]
        wh = (time.perf_counter() - t0) * 1000
        if want != got:
            raise SystemExit(f"index {got} != warehouse {want}: {to_text(tree)}")
        out.append({"expr": to_text(tree), "count": got, "index_ms": round(ix, 1),
                    "warehouse_ms": round(wh, 1)})
    return out


def refresh_and_export(ws, as_of: date, work: Path) -> dict:
    """Two saved audiences (one using the other) refreshed at as_of and a month earlier (the
    second refresh is a diff), then the big one exported to CSV."""
    from siyu.audience.export import export
    from siyu.audience.refresh import refresh
    from siyu.audience.saved import list_saved, save

    have = {r["name"] for r in list_saved(ws)}
    for name, expr in (("bench_big", 'tag("tag_20") or rfm = "dormant"'),
                       ("bench_small", 'in_audience("bench_big") and tag("tag_1")')):
        if name not in have:
            save(ws, name, expr)
    out = {}
    for label, day in (("first", as_of), ("second", date(as_of.year, as_of.month, 1))):
        t0 = time.perf_counter()
        r = refresh(ws, None, day)
        out[label] = {"s": round(time.perf_counter() - t0, 1), "as_of": r["as_of"],
                      "audiences": [{k: a[k] for k in ("audience", "members", "entered", "left",
                                                       "ms")} for a in r["audiences"]]}
    t0 = time.perf_counter()
    e = export(ws, "bench_big", work / "bench_big.csv", force=True, actor="bench")
    out["export"] = {"s": round(time.perf_counter() - t0, 1), "rows": e["rows"]}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--source", type=Path, default=ROOT / "data" / "ws-1000000")
    ap.add_argument("--work", type=Path, default=Path("/tmp/siyu-bench-audience"))
    ap.add_argument("--as-of", default="2025-12-31")
    ap.add_argument("--counts", type=int, default=200)
    ap.add_argument("--event-counts", type=int, default=10)
    ap.add_argument("--filtered-counts", type=int, default=10)
    ap.add_argument("--check", type=int, default=3)
    ap.add_argument("--skip-refresh", action="store_true",
                    help="skip step 6 (saved audiences refreshed, one exported)")
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()
    if a.work.resolve() == a.source.resolve().parent:
        raise SystemExit("--work must not be the source's folder")
    a.work.mkdir(parents=True, exist_ok=True)
    home = copy_workspace(a.source, a.work)
    as_of = date.fromisoformat(a.as_of)
    rng = random.Random(a.seed)
    res: dict = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                             "load_before": os.getloadavg()},
                 "source": str(a.source), "as_of": a.as_of, "seed": a.seed}
    with Workspace.open(home) as ws:
        ws.ensure()
        t0 = time.perf_counter()
        res["inputs"] = synthetic_inputs(ws)
        res["inputs_s"] = round(time.perf_counter() - t0, 1)
        t0 = time.perf_counter()
        res["index"] = build_index(ws, as_of, progress=lambda s: print(f"  index: {s}",
                                                                       file=sys.stderr))
        res["index_s"] = round(time.perf_counter() - t0, 1)
        res["index_bytes"] = sum(p.stat().st_size for p in (home / "index").iterdir())
        print(f"index built in {res['index_s']} s", file=sys.stderr)
        trees = [random_tree(rng, rng.randrange(1, 11)) for _ in range(a.counts)]
        res["counts"] = quantiles(timed_counts(ws, trees, as_of))
        res["examples"] = [to_text(t) for t in trees[:3]]
        print(f"counts: {res['counts']}", file=sys.stderr)
        ev = [random_tree(rng, rng.randrange(1, 11), event=True) for _ in range(a.event_counts)]
        res["event_counts"] = quantiles(timed_counts(ws, ev, as_of))
        res["event_examples"] = [to_text(t) for t in ev[:3]]
        print(f"event counts: {res['event_counts']}", file=sys.stderr)
        fv = [random_tree(rng, rng.randrange(1, 11), event=True, filtered=True)
              for _ in range(a.filtered_counts)]
        res["filtered_event_counts"] = quantiles(timed_counts(ws, fv, as_of))
        res["filtered_event_examples"] = [to_text(t) for t in fv[:3]]
        print(f"filtered event counts: {res['filtered_event_counts']}", file=sys.stderr)
        # small trees (2–3 terms, one with an event window): the warehouse is slow
        small = [random_tree(rng, rng.randrange(2, 4), event=i == 0) for i in range(a.check)]
        res["checked"] = checked_counts(ws, small, as_of)
        print(f"checked against the warehouse: {len(small)}", file=sys.stderr)
        if not a.skip_refresh:
            res["refresh"] = refresh_and_export(ws, as_of, a.work)
            print(f"refresh and export: {res['refresh']}", file=sys.stderr)
        res["consumers"] = res["index"]["consumers"]
    expr = to_text(trees[0])
    t0 = time.perf_counter()
    p = subprocess.run([str(Path(sys.executable).parent / "siyu"), "audience", "count", expr,
                        "--as-of", a.as_of, "--home", str(home), "--json"],
                       capture_output=True, text=True, check=True)
    res["cli_count"] = {"expr": expr, "wall_ms": round((time.perf_counter() - t0) * 1000, 1),
                        **json.loads(p.stdout)}
    res["machine"]["load_after"] = os.getloadavg()
    out = a.out or ROOT / "out" / (f"{datetime.now(UTC):%Y%m%dT%H%M%S}-audience-"
                                   f"{res['consumers']}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, ensure_ascii=False, indent=1))
    c, e, f = res["counts"], res["event_counts"], res["filtered_event_counts"]
    print(f"| consumers | index build s | index MB | counts (n) median / p99 / max ms | "
          f"one event-window term (n) median / max ms | one filtered event term (n) median / "
          f"max ms | CLI count wall ms |\n|---|---|---|---|---|---|---|\n"
          f"| {res['consumers']:,} | {res['index_s']} | "
          f"{res['index_bytes'] / 2**20:.1f} | ({c['n']}) {c['median']} / {c['p99']} / "
          f"{c['max']} | ({e['n']}) {e['median']} / {e['max']} | ({f['n']}) {f['median']} / "
          f"{f['max']} | {res['cli_count']['wall_ms']} |")
    print(f"results: {out}")


if __name__ == "__main__":
    main()
