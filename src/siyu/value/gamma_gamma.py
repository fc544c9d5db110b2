r"""Gamma-Gamma: the spend per transaction a consumer will have.

Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005), "RFM and CLV: using iso-value curves for
customer base analysis", *Journal of Marketing Research* 42(4), 415–430, and Fader & Hardie
(2013), "The Gamma-Gamma model of monetary value" (note at brucehardie.com).

Model. The amounts z_1 … z_x of a consumer's repeat transactions are i.i.d. Gamma(p, ν)
(shape p, rate ν), so the mean spend m̄ = Σz/x is Gamma(px, νx); across consumers
ν ~ Gamma(q, γ). It is fitted on the consumers with x > 0 repeat transactions and mean repeat
spend m̄ > 0 (:mod:`siyu.value.summary`). Likelihood of one consumer::

    f(m̄ | p, q, γ; x) = Γ(px+q) / (Γ(px) Γ(q)) · γ^q · m̄^(px−1) · x^(px) / (γ + x m̄)^(px+q)

and its gradient over (p, q, γ)::

    ∂p = x [ψ(px+q) − ψ(px) + ln x + ln m̄ − ln(γ + x m̄)]
    ∂q = ψ(px+q) − ψ(q) + ln γ − ln(γ + x m̄)
    ∂γ = q/γ − (px+q)/(γ + x m̄)

maximised over log(p, q, γ) with L-BFGS-B (:func:`siyu.value.base.fit_log_params`).

Conditional expected mean spend (Fader & Hardie 2013, eq. 5), a weighted mean of the
population mean E[Z] = pγ/(q−1) and the consumer's own m̄::

    E[Z | p, q, γ, m̄, x] = p (γ + x m̄) / (px + q − 1)
                        = (q−1)/(px+q−1) · pγ/(q−1) + px/(px+q−1) · m̄

(for x = 0 it is the population mean; finite only when q > 1).

The model assumes spend is independent of purchase frequency: check it with
:func:`independence_check` (Fader & Hardie report a correlation of 0.11 on CDNOW).

>>> model = GammaGammaModel.from_params(GammaGammaParams(p=6.25, q=3.74, gamma=15.44))
>>> round(model.population_mean(), 2)
35.22
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import digamma, gammaln

from siyu.value._arrays import dot
from siyu.value.base import FitConfig, FitReport, ValueModel, fit_log_params
from siyu.value.summary import RFMSummary

__all__ = ["GammaGammaConfig", "GammaGammaModel", "GammaGammaParams",
           "conditional_expected_spend", "independence_check", "log_likelihood"]


@dataclass(frozen=True)
class GammaGammaParams:
    """Gamma-Gamma parameters: spend ~ Gamma(p, ν), ν ~ Gamma(q, γ)."""

    p: float
    q: float
    gamma: float


@dataclass(frozen=True)
class GammaGammaConfig(FitConfig):
    """Settings of the Gamma-Gamma model (the optimiser's only)."""


def _repeat_buyers(frequency: np.ndarray, monetary: np.ndarray) -> np.ndarray:
    return (np.asarray(frequency) > 0) & (np.asarray(monetary) > 0)


def log_likelihood(params: GammaGammaParams, x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """ln f(m̄ | x) of each consumer (x > 0, m̄ > 0)."""
    p, q, g = params.p, params.q, params.gamma
    x, m = np.asarray(x, dtype=np.float64), np.asarray(m, dtype=np.float64)
    px = p * x
    return (gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(g)
            + (px - 1.0) * np.log(m) + px * np.log(x) - (px + q) * np.log(g + x * m))


def _objective(x: np.ndarray, m: np.ndarray) -> Callable[[np.ndarray],
                                                         tuple[float, np.ndarray]]:
    """θ = log(p, q, γ) → (−mean ln f, gradient); x-only terms once per distinct x."""
    n = float(x.size)
    xs, xi = np.unique(x, return_inverse=True)
    cx = np.bincount(xi, minlength=xs.size).astype(np.float64)
    log_m = np.log(m)
    sum_log_m, sum_x_log_m = log_m.sum(), dot(x, log_m)
    log_xs = np.log(xs)

    def f(theta: np.ndarray) -> tuple[float, np.ndarray]:
        p, q, g = np.exp(theta)
        pxs = p * xs
        big = np.log(g + x * m)
        shape_i = p * x + q
        ll = (dot(cx, gammaln(pxs + q) - gammaln(pxs) + pxs * log_xs) - n * gammaln(q)
              + n * q * np.log(g) + p * sum_x_log_m - sum_log_m - dot(shape_i, big))
        dg_pq = digamma(pxs + q)
        g_p = dot(cx, xs * (dg_pq - digamma(pxs) + log_xs)) + sum_x_log_m - dot(x, big)
        g_q = dot(cx, dg_pq) - n * digamma(q) + n * np.log(g) - big.sum()
        g_g = n * q / g - dot(shape_i, 1.0 / (g + x * m))
        grad = np.array([g_p * p, g_q * q, g_g * g])
        return -ll / n, -grad / n

    return f


def conditional_expected_spend(params: GammaGammaParams, x: np.ndarray,
                               m: np.ndarray) -> np.ndarray:
    """E[Z | m̄, x] = p (γ + x m̄) / (px + q − 1) (Fader & Hardie 2013, eq. 5)."""
    x, m = np.asarray(x, dtype=np.float64), np.asarray(m, dtype=np.float64)
    p, q, g = params.p, params.q, params.gamma
    with np.errstate(divide="ignore", invalid="ignore"):
        return p * (g + x * m) / (p * x + q - 1.0)


def independence_check(frequency: np.ndarray, monetary: np.ndarray) -> float:
    """Pearson correlation between frequency and mean spend over repeat buyers (x > 0,
    m̄ > 0). Near 0 supports the Gamma-Gamma independence assumption; NaN with fewer than
    two repeat buyers or no variation."""
    keep = _repeat_buyers(frequency, monetary)
    x = np.asarray(frequency, dtype=np.float64)[keep]
    m = np.asarray(monetary, dtype=np.float64)[keep]
    if x.size < 2 or x.std() == 0 or m.std() == 0:
        return float("nan")
    return float(np.corrcoef(x, m)[0, 1])


class GammaGammaModel(ValueModel[GammaGammaParams, GammaGammaConfig]):
    """Gamma-Gamma spend model fitted on the repeat buyers of an :class:`RFMSummary`."""

    name = "gamma_gamma"
    params_type = GammaGammaParams
    config_type = GammaGammaConfig

    def _fit(self, summary: RFMSummary) -> tuple[GammaGammaParams, FitReport]:
        keep = _repeat_buyers(summary.frequency, summary.monetary)
        if keep.sum() < 2:
            raise ValueError("Gamma-Gamma needs at least two consumers with repeat purchases")
        x = summary.frequency[keep].astype(np.float64)
        m = summary.monetary[keep]
        start = np.log([1.0, 2.0, float(np.mean(m))])
        theta, report = fit_log_params(_objective(x, m), start, self.config, float(x.size))
        p, q, g = (float(v) for v in np.exp(theta))
        return GammaGammaParams(p=p, q=q, gamma=g), report

    def log_likelihood(self, summary: RFMSummary) -> np.ndarray:
        """ln f of each repeat buyer (x > 0, m̄ > 0), in summary order."""
        keep = _repeat_buyers(summary.frequency, summary.monetary)
        return log_likelihood(self.params, summary.frequency[keep], summary.monetary[keep])

    def population_mean(self) -> float:
        """E[Z] = pγ/(q−1): mean spend per transaction of a consumer with no history
        (infinite when q ≤ 1)."""
        p = self.params
        return float("inf") if p.q <= 1 else p.p * p.gamma / (p.q - 1.0)

    def expected_spend(self, summary: RFMSummary) -> np.ndarray:
        """Conditional expected spend per transaction of every consumer; consumers without
        repeat purchases (or with m̄ ≤ 0) get the population mean."""
        x = np.where(_repeat_buyers(summary.frequency, summary.monetary),
                     summary.frequency, 0)
        return conditional_expected_spend(self.params, x, np.where(x > 0, summary.monetary,
                                                                   0.0))
