"""Summaries drawn from known BG/NBD and Gamma-Gamma parameters (tests, benchmarks).

Per consumer, exactly as the models assume (FHL 2005, §2): λ ~ Gamma(r, α) and
p ~ Beta(a, b); the number of repeat purchases until and including the one after which the
consumer drops out is N ~ Geometric(p); the purchases while alive are a Poisson process of
rate λ. Over (0, T] the process has K ~ Poisson(λT) events, so x = min(K, N), and the x-th of
K uniform event times is T · Beta(x, K−x+1). A consumer with K < N is alive at T and buys
min(Poisson(λh), N−K) times in a holdout of length h. Spend: ν ~ Gamma(q, γ) and the mean of
x Gamma(p, ν) amounts is Gamma(px, ν)/x.

>>> from siyu.value.bgnbd import BetaGeoParams
>>> s = simulate_summary(BetaGeoParams(0.25, 4.0, 0.8, 2.5), n=1000, T=273, seed=1,
...                      time_scale=7)
>>> len(s), bool((s.recency <= s.T).all())
(1000, True)
"""

from __future__ import annotations

import numpy as np

from siyu.value.bgnbd import BetaGeoParams
from siyu.value.gamma_gamma import GammaGammaParams
from siyu.value.summary import RFMSummary

__all__ = ["simulate_summary"]


def simulate_summary(bgnbd: BetaGeoParams, *, n: int, T: float | np.ndarray,
                     seed: int | np.random.Generator = 0,
                     gamma_gamma: GammaGammaParams | None = None,
                     holdout_days: float | None = None, time_scale: float = 1.0,
                     whole_days: bool = False) -> RFMSummary:
    """``n`` consumers observed for ``T`` days each (scalar or array); ``bgnbd`` is per
    ``time_scale`` days. ``whole_days`` floors the recency to whole days, as a summary of
    calendar days has it (same-day purchases are not merged: an approximation for timing
    runs, not for estimation tests)."""
    rng = np.random.default_rng(seed)
    big_t = np.broadcast_to(np.asarray(T, dtype=np.float64), (n,)).copy()
    lam = rng.gamma(bgnbd.r, 1.0 / bgnbd.alpha, n) / time_scale  # per day
    p = rng.beta(bgnbd.a, bgnbd.b, n)
    drop_after = rng.geometric(np.clip(p, 1e-300, 1.0))
    events = rng.poisson(lam * big_t)
    x = np.minimum(events, drop_after)
    t_x = np.zeros(n)
    pos = x > 0
    t_x[pos] = big_t[pos] * rng.beta(x[pos], events[pos] - x[pos] + 1)
    if whole_days:
        t_x = np.floor(t_x)
    hold = None
    if holdout_days is not None:
        alive = events < drop_after
        hold = np.where(alive, np.minimum(rng.poisson(lam * holdout_days),
                                          drop_after - events), 0)
    monetary = np.zeros(n)
    if gamma_gamma is not None:
        nu = rng.gamma(gamma_gamma.q, 1.0 / gamma_gamma.gamma, n)
        shape = np.where(pos, gamma_gamma.p * x, 1.0)
        monetary = np.where(pos, rng.gamma(shape, 1.0 / nu) / np.maximum(x, 1), 0.0)
    return RFMSummary.from_arrays(x, t_x, big_t, monetary, holdout_frequency=hold)
