"""Predictive CLV: discounted expected own value, predicted propagation value, churn risk.

For a consumer with summary (x, t_x, T, m̄) at the end of calibration, a horizon H days
(default 365) cut into steps ending at t_1 < … < t_K = H (monthly: 365/12 days; daily: 1 day;
or any number of days),
a yearly discount rate d (default 0.10) and a margin μ (default 1.0 = the amount basis,
DOMAIN.md §6):

    discounted purchases  DE = Σ_k [E[Y(t_k)] − E[Y(t_{k−1})]] · (1 + d)^(−t_k / 365)
                             = P(alive) · Σ_k [E_alive(t_k) − E_alive(t_{k−1})] · (1+d)^(−t_k/365)
    own value             CLV_own = DE · E[Z | m̄, x] · μ

with E[Y(t)] the BG/NBD conditional expectation (FHL 2005 eq. 10; purchases of step k are
discounted to the end of the step) and E[Z | m̄, x] the Gamma-Gamma conditional expected
spend (Fader & Hardie 2013; Fader, Hardie & Lee 2005, "RFM and CLV", JMR). DOMAIN.md §6
defines the realised CLV as own + propagation value; the predicted propagation value scales
the realised one of the last ``window_days`` (default 365) by the chance the consumer is
still alive and the length of the horizon:

    propagation           PROP = realised propagation over the window · P(alive) · H / window
    total                 CLV = CLV_own + PROP

Churn risk = 1 − P(alive), with deciles 1 … 10 (10 = riskiest): decile = ⌊10 (rank − 1)/n⌋ + 1
where rank is the position in ascending risk and tied risks share the rank of the first of
them, so a decile depends on the risk value alone (BG/NBD gives every consumer without a
repeat purchase P(alive) = 1, i.e. risk 0, decile 1).

>>> from siyu.value.bgnbd import BetaGeoModel, BetaGeoParams
>>> from siyu.value.gamma_gamma import GammaGammaModel, GammaGammaParams
>>> from siyu.value.summary import RFMSummary
>>> s = RFMSummary.from_arrays([0, 2, 5], [0.0, 30.0, 200.0], [100.0, 200.0, 210.0],
...                            [0.0, 20.0, 35.0])
>>> bg = BetaGeoModel.from_params(BetaGeoParams(0.243, 4.414, 0.793, 2.426), time_scale=7)
>>> gg = GammaGammaModel.from_params(GammaGammaParams(6.25, 3.74, 15.44))
>>> res = predictive_clv(s, bg, gg)
>>> res.churn_decile.tolist()
[1, 7, 4]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pyarrow as pa

from siyu.value._arrays import unique_rows
from siyu.value.bgnbd import BetaGeoModel, expected_purchases_if_alive
from siyu.value.gamma_gamma import GammaGammaModel
from siyu.value.summary import RFMSummary

__all__ = ["CLVResult", "Step", "churn_deciles", "discounted_purchases", "predictive_clv",
           "step_ends"]

DAYS_PER_YEAR = 365.0


@dataclass(frozen=True, eq=False)
class CLVResult:
    """Predictive CLV per consumer (arrays in summary order) and the settings used."""

    consumer_id: np.ndarray
    p_alive: np.ndarray
    churn_risk: np.ndarray
    churn_decile: np.ndarray
    expected_purchases: np.ndarray
    """Undiscounted expected purchases over the horizon."""
    discounted_purchases: np.ndarray
    expected_spend: np.ndarray
    clv: np.ndarray
    """Discounted expected own value: discounted purchases × expected spend × margin."""
    predicted_propagation: np.ndarray
    total: np.ndarray
    """clv + predicted_propagation."""
    horizon_days: float
    discount_rate: float
    margin: float
    step: str | float

    def to_arrow(self) -> pa.Table:
        names = ("consumer_id", "p_alive", "churn_risk", "churn_decile", "expected_purchases",
                 "discounted_purchases", "expected_spend", "clv", "predicted_propagation",
                 "total")
        return pa.table({k: getattr(self, k) for k in names})


Step = Literal["month", "day"] | float


def step_ends(horizon_days: float, step: Step = "month") -> np.ndarray:
    """Ends of the steps that cut (0, horizon]: every 365/12 days (``"month"``), every day
    (``"day"``) or every ``step`` days (a number); the last step ends at the horizon.

    >>> step_ends(365).round(2).tolist()[:3], len(step_ends(365)), len(step_ends(10, "day"))
    ([30.42, 60.83, 91.25], 12, 10)
    """
    if horizon_days <= 0:
        raise ValueError("horizon_days must be positive")
    if step == "month":
        length = DAYS_PER_YEAR / 12
    elif step == "day":
        length = 1.0
    elif isinstance(step, int | float) and not isinstance(step, bool) and step > 0:
        length = float(step)
    else:
        raise ValueError("step must be 'month', 'day' or a positive number of days")
    k = max(1, math.ceil(horizon_days / length - 1e-9))
    return np.minimum(np.arange(1, k + 1) * length, horizon_days)


def discounted_purchases(bgnbd: BetaGeoModel, summary: RFMSummary, *, horizon_days: float,
                         discount_rate: float = 0.10,
                         step: Step = "month") -> tuple[np.ndarray, np.ndarray]:
    """(discounted, undiscounted) expected purchases over the horizon per consumer (module
    docstring). Each distinct (frequency, T) is evaluated once per step."""
    if discount_rate <= -1:
        raise ValueError("discount_rate must be greater than -1")
    ends = step_ends(horizon_days, step)
    factors = (1.0 + discount_rate) ** (-ends / DAYS_PER_YEAR)
    scale = bgnbd.config.time_scale
    (ux, uT), inv, _ = unique_rows(summary.frequency.astype(np.float64), summary.T)
    acc = np.zeros(ux.shape[0])
    prev = np.zeros(ux.shape[0])
    for end, factor in zip(ends, factors, strict=True):
        cur = expected_purchases_if_alive(bgnbd.params, ux, uT / scale, end / scale)
        acc += (cur - prev) * factor
        prev = cur
    alive = bgnbd.p_alive(summary)
    return alive * acc[inv], alive * prev[inv]


def churn_deciles(risk: np.ndarray) -> np.ndarray:
    """Deciles 1 … 10 of ``risk`` (10 = highest); ties share the decile of the first of them.

    >>> churn_deciles(np.array([0.0, 0.0, 0.5, 0.9, 0.2])).tolist()
    [1, 1, 7, 9, 5]
    """
    n = risk.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(risk, kind="stable")
    sorted_risk = risk[order]
    first = np.r_[True, sorted_risk[1:] != sorted_risk[:-1]]
    rank_min = np.maximum.accumulate(np.where(first, np.arange(n), 0))  # 0-based
    deciles = np.empty(n, dtype=np.int64)
    deciles[order] = (10 * rank_min) // n + 1
    return deciles


def predictive_clv(summary: RFMSummary, bgnbd: BetaGeoModel, gamma_gamma: GammaGammaModel, *,
                   horizon_days: float = 365.0, discount_rate: float = 0.10,
                   margin: float = 1.0, step: Step = "month",
                   realised_propagation: np.ndarray | None = None,
                   window_days: float = 365.0) -> CLVResult:
    """Predictive CLV of every consumer of ``summary`` from fitted models (module docstring).

    ``realised_propagation`` is each consumer's realised propagation value over the last
    ``window_days`` (DOMAIN.md §6), in summary order; none means 0.
    """
    n = len(summary)
    disc, plain = discounted_purchases(bgnbd, summary, horizon_days=horizon_days,
                                       discount_rate=discount_rate, step=step)
    alive = bgnbd.p_alive(summary)
    spend = gamma_gamma.expected_spend(summary)
    own = disc * spend * margin
    if realised_propagation is None:
        prop = np.zeros(n)
    else:
        realised = np.asarray(realised_propagation, dtype=np.float64)
        if realised.shape != (n,):
            raise ValueError(f"realised_propagation must have one value per consumer ({n})")
        if window_days <= 0:
            raise ValueError("window_days must be positive")
        prop = realised * alive * (horizon_days / window_days)
    risk = 1.0 - alive
    return CLVResult(consumer_id=summary.consumer_id, p_alive=alive, churn_risk=risk,
                     churn_decile=churn_deciles(risk), expected_purchases=plain,
                     discounted_purchases=disc, expected_spend=spend, clv=own,
                     predicted_propagation=prop, total=own + prop,
                     horizon_days=float(horizon_days), discount_rate=float(discount_rate),
                     margin=float(margin), step=step)
