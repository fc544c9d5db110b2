"""Predictive-CLV benchmark: fit BG/NBD + Gamma-Gamma and predict for a simulated brand.

Simulates one summary (frequency, recency, T, monetary) of ``--consumers`` consumers from
known parameters (``siyu.value.simulate``; T uniform over 0–364 whole days, recency in whole
days like a summary of calendar days, or continuous with ``--continuous``), then times each
step ``--repeat`` times and prints the medians as a Markdown table::

    python benchmarks/bench_clv.py                      # 1 M consumers, 3 runs
    python benchmarks/bench_clv.py --continuous         # no repeated (x, t_x, T) rows

Steps: BG/NBD fit, Gamma-Gamma fit, expected purchases over 365 days, P(alive), expected
spend, and the whole predictive CLV (365 days, monthly steps, 10 % a year; it recomputes
P(alive) and the spend). With ``lifetimes`` installed (dev extra), its BetaGeoFitter and
GammaGammaFitter do the same on the first ``--lifetimes-consumers`` consumers (default
100,000: it is much slower) and siyu is timed again at that size for the ratio. lifetimes'
CLV uses 30-day months (freq "D"), a sum of the same form.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable

import numpy as np
import scipy

from siyu.value.bgnbd import BetaGeoModel, BetaGeoParams
from siyu.value.clv import predictive_clv
from siyu.value.gamma_gamma import GammaGammaModel, GammaGammaParams
from siyu.value.simulate import simulate_summary
from siyu.value.summary import RFMSummary

BGNBD = BetaGeoParams(r=0.25, alpha=4.0, a=0.8, b=2.5)  # per week, CDNOW-like
GAMMA_GAMMA = GammaGammaParams(p=6.0, q=4.0, gamma=15.0)
STEPS = ("bgnbd_fit", "gamma_gamma_fit", "expected_purchases_365d", "p_alive",
         "expected_spend", "clv_365d")


def simulate(n: int, seed: int, continuous: bool) -> RFMSummary:
    rng = np.random.default_rng(seed)
    T = rng.uniform(0, 365, n) if continuous else rng.integers(0, 365, n).astype(float)
    return simulate_summary(BGNBD, n=n, T=T, seed=seed + 1, gamma_gamma=GAMMA_GAMMA,
                            time_scale=7, whole_days=not continuous)


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def run_siyu(s: RFMSummary) -> dict[str, float]:
    bg, gg = BetaGeoModel(time_scale=7), GammaGammaModel()
    sec = {}
    sec["bgnbd_fit"], _ = timed(lambda: bg.fit(s))
    sec["gamma_gamma_fit"], _ = timed(lambda: gg.fit(s))
    sec["expected_purchases_365d"], _ = timed(lambda: bg.expected_purchases(s, t=365))
    sec["p_alive"], _ = timed(lambda: bg.p_alive(s))
    sec["expected_spend"], _ = timed(lambda: gg.expected_spend(s))
    sec["clv_365d"], _ = timed(lambda: predictive_clv(s, bg, gg))
    if not (bg.fit_report.converged and gg.fit_report.converged):
        raise SystemExit(f"fit did not converge: {bg.fit_report} {gg.fit_report}")
    return sec


def run_lifetimes(s: RFMSummary) -> dict[str, float]:
    import pandas as pd
    from lifetimes import BetaGeoFitter, GammaGammaFitter

    x, t_x, T = (pd.Series(a) for a in (s.frequency, s.recency, s.T))
    m = pd.Series(s.monetary)
    rep = s.frequency > 0
    bg, gg = BetaGeoFitter(), GammaGammaFitter()
    sec = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sec["bgnbd_fit"], _ = timed(lambda: bg.fit(x, t_x, T))
        sec["gamma_gamma_fit"], _ = timed(lambda: gg.fit(x[rep], m[rep]))
        sec["expected_purchases_365d"], _ = timed(
            lambda: bg.conditional_expected_number_of_purchases_up_to_time(365, x, t_x, T))
        sec["p_alive"], _ = timed(lambda: bg.conditional_probability_alive(x, t_x, T))
        sec["expected_spend"], _ = timed(lambda: gg.conditional_expected_average_profit(x, m))
        sec["clv_365d"], _ = timed(lambda: gg.customer_lifetime_value(
            bg, x, t_x, T, m, time=12, discount_rate=(1.10 ** (30 / 365) - 1), freq="D"))
    return sec


def medians(runs: list[dict[str, float]]) -> dict[str, float]:
    out = {k: statistics.median(r[k] for r in runs) for k in STEPS}
    out["total"] = statistics.median(sum(r[k] for k in STEPS) for r in runs)
    return out


def fmt(v: float) -> str:
    return f"{v:.3f}" if v < 10 else f"{v:.1f}"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--consumers", type=int, default=1_000_000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--continuous", action="store_true",
                   help="continuous recency and T (no repeated rows to share work)")
    p.add_argument("--lifetimes-consumers", type=int, default=100_000,
                   help="consumers for the lifetimes comparison (0: skip it)")
    p.add_argument("--json", action="store_true", help="also print one JSON line")
    args = p.parse_args(argv)

    t0 = time.perf_counter()
    s = simulate(args.consumers, args.seed, args.continuous)
    sim_s = time.perf_counter() - t0
    big = medians([run_siyu(s) for _ in range(args.repeat)])
    result: dict = {"bench": "clv", "consumers": len(s), "continuous": args.continuous,
                    "repeat": args.repeat, "simulate_seconds": round(sim_s, 2),
                    "distinct_rows": int(np.unique(np.c_[s.frequency, s.recency, s.T],
                                                   axis=0).shape[0]),
                    "siyu": big}
    cols = [f"siyu, {len(s):,}"]
    table = {k: [big[k]] for k in (*STEPS, "total")}

    n_lt = min(args.lifetimes_consumers, len(s))
    try:
        import lifetimes  # noqa: F401
    except ImportError:
        n_lt = 0
    if n_lt:
        small = s.select(np.arange(n_lt))
        same = n_lt == len(s)
        ours = big if same else medians([run_siyu(small) for _ in range(args.repeat)])
        theirs = medians([run_lifetimes(small) for _ in range(args.repeat)])
        result.update(lifetimes_consumers=n_lt, siyu_small=ours, lifetimes=theirs)
        cols += ([] if same else [f"siyu, {n_lt:,}"]) + [f"lifetimes, {n_lt:,}",
                                                         "lifetimes / siyu"]
        for k in table:
            table[k] += ([] if same else [ours[k]]) + [theirs[k], theirs[k] / ours[k]]

    kind = "continuous times" if args.continuous else "whole days"
    print(f"Predictive CLV, median of {args.repeat} runs, seconds ({kind}; "
          f"{result['distinct_rows']:,} distinct (x, t_x, T) rows; {os.cpu_count()} cores, "
          f"{platform.machine()}, Python {platform.python_version()}, NumPy {np.__version__}, "
          f"SciPy {scipy.__version__})\n")
    print("| step | " + " | ".join(cols) + " |")
    print("|---|" + "---:|" * len(cols))
    for k, vals in table.items():
        cells = [fmt(v) for v in vals]
        if n_lt:
            cells[-1] = f"{vals[-1]:.0f}×"
        name = f"**{k}**" if k == "total" else k
        print(f"| {name} | " + " | ".join(cells) + " |")
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    sys.exit(main())
