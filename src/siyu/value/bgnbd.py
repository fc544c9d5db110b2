r"""BG/NBD: how many more purchases a consumer will make, and whether they are still "alive".

Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005), "'Counting your customers' the easy way:
an alternative to the Pareto/NBD model", *Marketing Science* 24(2), 275–284 (FHL 2005), and
Fader, Hardie & Lee (2007), "Computing P(alive) using the BG/NBD model" and Fader & Hardie,
"Deriving the conditional PMF of the BG/NBD model" (notes at brucehardie.com).

Model. While alive, a consumer buys as a Poisson process of rate λ; after each repeat
purchase they drop out with probability p. Across consumers λ ~ Gamma(r, α) (shape r, rate
α) and p ~ Beta(a, b), independent. A consumer is summarised by x (repeat purchases), t_x
(time of the last one since the first purchase) and T (time since the first purchase), see
:mod:`siyu.value.summary`.

Likelihood (FHL 2005, eq. 6), with B the beta function::

    L(r, α, a, b | x, t_x, T) = B(a, b+x)/B(a, b) · Γ(r+x) α^r / Γ(r)
                                · [ (α+T)^−(r+x) + δ(x>0) · a/(b+x−1) · (α+t_x)^−(r+x) ]

evaluated in log space (``logaddexp`` of the two terms) with its analytic gradient; the fit
maximises Σ ln L over log(r, α, a, b) with L-BFGS-B (:func:`siyu.value.base.fit_log_params`).

Predictions, for a consumer alive at T the future is a new BG/NBD consumer with the updated
parameters (r+x, α+T, a, b+x) (posterior of λ and p given alive), so everything follows from
the new-consumer formulas:

* P(alive) (FHL 2005 eq. 10 denominator; Fader, Hardie & Lee 2007)::

      P(alive | x, t_x, T) = 1 / (1 + δ(x>0) · a/(b+x−1) · ((α+T)/(α+t_x))^(r+x))

* expected purchases of a new consumer in (0, t] (FHL 2005 eq. 9)::

      E[X(t)] = (a+b−1)/(a−1) · [1 − (α/(α+t))^r · ₂F₁(r, b; a+b−1; t/(α+t))]

  computed after Euler's transformation ₂F₁(r, b; c; z) = (1−z)^(c−r−b) ₂F₁(c−r, c−b; c; z):
  (α/(α+t))^r ₂F₁(…) = (1−z)^(a−1) ₂F₁(a+b−1−r, a−1; a+b−1; z), whose series converges at
  z → 1 and needs no huge intermediate values; ``1 − (1−z)^(a−1)`` is taken with ``expm1``.
  At a = 1 (0/0, removable) the mean of the values at a ± 10⁻⁵ is taken. Where ``hyp2f1``
  still fails (a+b ≤ 1, a non-finite value) the same expectation is integrated directly, E[X(t)] = E_p[(1 − (α/(α+pt))^r)/p] with p ~ Beta(a, b), by
  Gauss–Jacobi quadrature.
* conditional expected purchases in (T, T+t] (FHL 2005 eq. 10)::

      E[Y(t) | x, t_x, T] = P(alive) · E[X(t); r+x, α+T, a, b+x]

* probability of exactly n purchases in (0, t] for a new consumer (FHL 2005 eq. 8)::

      P(X(t)=n) = B(a, b+n)/B(a, b) · Γ(r+n)/(Γ(r) n!) · (α/(α+t))^r (t/(α+t))^n
                  + δ(n>0) · B(a+1, b+n−1)/B(a, b) · [1 − Σ_{j<n} NB(j; r, α/(α+t))]

  where the bracket, the negative-binomial survival P(N ≥ n), is the regularised incomplete
  beta I_{t/(α+t)}(n, r) (``betainc``: no cancellation); and conditionally on (x, t_x, T)::

      P(Y(t)=n | x, t_x, T) = δ(n=0) · (1 − P(alive)) + P(alive) · P(X(t)=n; r+x, α+T, a, b+x)

Units: summaries and every horizon ``t`` are in **days**; the parameters are per model time
unit of ``config.time_scale`` days (``time_scale=7`` reports α per week, as FHL 2005 do). r, a
and b do not depend on the unit; α scales with it.

>>> params = BetaGeoParams(r=0.243, alpha=4.414, a=0.793, b=2.426)  # CDNOW, weeks
>>> model = BetaGeoModel.from_params(params, time_scale=7)
>>> round(float(model.expected_purchases_new(t=39 * 7)), 4)
1.1967
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import (
    betainc,
    betaln,
    digamma,
    expit,
    gammaln,
    hyp2f1,
    log_expit,
    polygamma,
    xlogy,
)

from siyu.value._arrays import dot, unique_rows
from siyu.value.base import FitConfig, FitReport, ValueModel, fit_log_params
from siyu.value.summary import RFMSummary

__all__ = ["BetaGeoConfig", "BetaGeoModel", "BetaGeoParams", "conditional_expected_purchases",
           "conditional_pmf", "expected_purchases_if_alive", "expected_purchases_new",
           "log_likelihood", "p_alive", "pmf_new"]


@dataclass(frozen=True)
class BetaGeoParams:
    """BG/NBD parameters: λ ~ Gamma(r, α) per model time unit, p ~ Beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float


@dataclass(frozen=True)
class BetaGeoConfig(FitConfig):
    """Settings of the BG/NBD model."""

    time_scale: float = 1.0
    """Days per model time unit: 1 = α per day, 7 = α per week. Inputs stay in days."""


# ---- numeric core: arrays in model time units --------------------------------------------

def log_likelihood(params: BetaGeoParams, x: np.ndarray, t_x: np.ndarray,
                   T: np.ndarray) -> np.ndarray:
    """ln L of each consumer (FHL 2005 eq. 6), times in model units."""
    r, al, a, b = params.r, params.alpha, params.a, params.b
    x = np.asarray(x, dtype=np.float64)
    t_x, T = np.asarray(t_x, dtype=np.float64), np.asarray(T, dtype=np.float64)
    base = (gammaln(r + x) - gammaln(r) + r * np.log(al)
            + betaln(a, b + x) - betaln(a, b))
    u = -(r + x) * np.log(al + T)
    pos = x > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        v = np.where(pos, np.log(a) - np.log(np.where(pos, b + x - 1, 1.0))
                     - (r + x) * np.log(al + t_x), -np.inf)
    return base + np.logaddexp(u, v)


def _objective(x: np.ndarray, t_x: np.ndarray, T: np.ndarray,
               w: np.ndarray) -> Callable[[np.ndarray], tuple[float, np.ndarray]]:
    """θ = log(r, α, a, b) → (−mean ln L, its gradient), on rows with weights ``w``.

    The gradient of ln L_i, with ω_i = the share of the δ(x>0) term in the bracket::

        ∂r = ψ(r+x) − ψ(r) + ln α − (1−ω) ln(α+T) − ω ln(α+t_x)
        ∂α = r/α − (r+x) · [(1−ω)/(α+T) + ω/(α+t_x)]
        ∂a = ψ(a+b) − ψ(a+b+x) + ω/a
        ∂b = ψ(b+x) − ψ(a+b+x) − ψ(b) + ψ(a+b) − ω/(b+x−1)

    times each parameter for the log scale. Terms depending on x alone are computed once per
    distinct x.
    """
    n_total = float(w.sum())
    zero = x == 0
    T0, w0 = T[zero], w[zero]
    tx1, T1, w1 = t_x[~zero], T[~zero], w[~zero]
    xs, xi = np.unique(x[~zero], return_inverse=True)
    cx = np.bincount(xi, weights=w1, minlength=xs.size)

    def f(theta: np.ndarray) -> tuple[float, np.ndarray]:
        r, al, a, b = np.exp(theta)
        l0 = np.log(al + T0)
        lT, ltx = np.log(al + T1), np.log(al + tx1)
        rx = r + xs
        rxi = rx[xi]
        u = -rxi * lT
        v = (np.log(a) - np.log(b + xs - 1))[xi] - rxi * ltx
        d = np.logaddexp(u, v)
        om = np.exp(v - d)
        gx = gammaln(rx) - gammaln(r) + betaln(a, b + xs) - betaln(a, b)
        log_al = np.log(al)
        w0_l0 = dot(w0, l0)
        ll = n_total * r * log_al - r * w0_l0 + dot(cx, gx) + dot(w1, d)
        w1om = w1 * om
        w1_1om = w1 - w1om
        om_by_x = np.bincount(xi, weights=w1om, minlength=xs.size)
        g_r = (dot(cx, digamma(rx) - digamma(r)) + n_total * log_al - w0_l0
               - dot(w1_1om, lT) - dot(w1om, ltx))
        g_al = (n_total * r / al - r * dot(w0, 1.0 / (al + T0))
                - dot(rxi * w1_1om, 1.0 / (al + T1)) - dot(rxi * w1om, 1.0 / (al + tx1)))
        dab = digamma(a + b) - digamma(a + b + xs)
        g_a = dot(cx, dab) + om_by_x.sum() / a
        g_b = dot(cx, dab + digamma(b + xs) - digamma(b)) - dot(om_by_x, 1.0 / (b + xs - 1))
        grad = np.array([g_r * r, g_al * al, g_a * a, g_b * b])
        return -ll / n_total, -grad / n_total

    return f


def p_alive(params: BetaGeoParams, x: np.ndarray, t_x: np.ndarray,
            T: np.ndarray) -> np.ndarray:
    """P(alive at T | x, t_x, T) = 1 / (1 + δ(x>0) a/(b+x−1) ((α+T)/(α+t_x))^(r+x))."""
    r, al, a, b = params.r, params.alpha, params.a, params.b
    x = np.asarray(x, dtype=np.float64)
    t_x, T = np.asarray(t_x, dtype=np.float64), np.asarray(T, dtype=np.float64)
    pos = x > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        log_odds = (np.log(a) - np.log(np.where(pos, b + x - 1, 1.0))
                    + (r + x) * (np.log(al + T) - np.log(al + t_x)))
    return np.where(pos, expit(-log_odds), 1.0)


def _expected_alive_quadrature(r: np.ndarray, alpha: np.ndarray, a: np.ndarray,
                               b: np.ndarray, t: np.ndarray, step: float = 0.2) -> np.ndarray:
    """E[X(t)] of a new consumer as E_p[(1 − (α/(α+pt))^r)/p], p ~ Beta(a, b), elementwise
    (1-d arrays of one length).

    With p = 1/(1+e^−y) the integral is ∫ (1 − (1+pt/α)^−r) p^(a−1) (1−p)^b dy / B(a, b)
    over the real line: analytic in a strip of half-width π and decaying like e^(ay) and
    e^(−by), so the trapezoidal rule converges geometrically in 1/step. The step is 0.2 or
    a quarter of the standard deviation of logit(p) if smaller; the range is ±12 standard
    deviations around its mean, widened until the tails fall below e^−40. One grid serves
    all elements with the same (a, b).
    """
    out = np.empty(r.shape)
    (ua, ub), group, _ = unique_rows(a, b, probe=False)
    for j in range(ua.size):
        idx = np.flatnonzero(group == j)
        aj, bj = ua[j], ub[j]
        # logit(p) of Beta(a, b) has mean ψ(a) − ψ(b) and variance ψ'(a) + ψ'(b)
        center = digamma(aj) - digamma(bj)
        sd = float(np.sqrt(polygamma(1, aj) + polygamma(1, bj)))
        rise = max(0.0, float(np.max(np.log(r[idx] * t[idx] / alpha[idx]))))
        h = min(step, sd / 4.0)
        y = np.arange(center - 12.0 * sd - (40.0 + rise) / aj,
                      center + 12.0 * sd + 40.0 / bj + h, h)
        log_p = log_expit(y)
        log_w = (aj - 1.0) * log_p + bj * log_expit(-y) - betaln(aj, bj)
        for chunk in np.array_split(idx, max(1, idx.size * y.size // 2_000_000 + 1)):
            z = log_p[None, :] + np.log(t[chunk] / alpha[chunk])[:, None]  # ln(pt/α)
            rc = r[chunk][:, None]
            with np.errstate(divide="ignore"):  # ln(1 − (1+pt/α)^−r) ≈ ln r + ln(pt/α) if tiny
                log_g = np.where(z < -30.0, np.log(rc) + z,
                                 np.log(-np.expm1(-rc * np.log1p(np.exp(np.minimum(z, 700.0))))))
            out[chunk] = h * np.exp(log_g + log_w[None, :]).sum(axis=1)
    return out


def _expected_alive_closed(r: np.ndarray, alpha: np.ndarray, a: np.ndarray, b: np.ndarray,
                           t: np.ndarray) -> np.ndarray:
    """FHL 2005 eq. 9 after Euler's transformation (module docstring), elementwise."""
    c, am1 = a + b - 1.0, a - 1.0
    with np.errstate(all="ignore"):
        log_q = -np.log1p(t / alpha)  # ln(α/(α+t)) = ln(1 − z)
        f = hyp2f1(c - r, am1, c, t / (alpha + t))
        return c / am1 * (-np.expm1(am1 * log_q) - np.exp(am1 * log_q) * (f - 1.0))


_A_NEAR_ONE = 1e-6  # |a − 1| below this: a ± _A_STEP, averaged (error ~ _A_STEP²)
_A_STEP = 1e-5


def _expected_alive(r: np.ndarray, alpha: np.ndarray, a: np.ndarray, b: np.ndarray,
                    t: np.ndarray) -> np.ndarray:
    """E[X(t)] of a consumer alive at the start with parameters (r, α, a, b): FHL 2005 eq. 9
    after Euler's transformation; broadcast, times in model units.

    At a = 1 the closed form is 0/0 (a removable singularity): there it is the mean of the
    closed form at a ± 10⁻⁵. Where ``hyp2f1`` gives no finite, non-negative value, or
    a + b ≤ 1 (₂F₁'s c ≤ 0), the expectation is integrated by quadrature instead.
    """
    r, alpha, a, b, t = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64)
                                              for v in (r, alpha, a, b, t)))
    e = np.array(_expected_alive_closed(r, alpha, a, b, t), dtype=np.float64, copy=True)
    near = np.abs(a - 1.0) < _A_NEAR_ONE
    if near.any():
        args = (r[near], alpha[near], a[near], b[near], t[near])
        e[near] = (_expected_alive_closed(*args[:2], args[2] + _A_STEP, *args[3:])
                   + _expected_alive_closed(*args[:2], args[2] - _A_STEP, *args[3:])) / 2
    e[t == 0] = 0.0
    bad = (~np.isfinite(e) | (a + b <= 1.0) | (e < 0)) & (t > 0)
    if bad.any():
        e[bad] = _expected_alive_quadrature(r[bad], alpha[bad], a[bad], b[bad], t[bad])
    return e


def expected_purchases_new(params: BetaGeoParams, t: np.ndarray | float) -> np.ndarray:
    """E[X(t)]: expected repeat purchases of a new consumer in (0, t] (FHL 2005 eq. 9)."""
    return _expected_alive(params.r, params.alpha, params.a, params.b, t)


def expected_purchases_if_alive(params: BetaGeoParams, x: np.ndarray, T: np.ndarray,
                                t: np.ndarray | float) -> np.ndarray:
    """Expected purchases in (T, T+t] of a consumer *known to be alive* at T."""
    x = np.asarray(x, dtype=np.float64)
    return _expected_alive(params.r + x, params.alpha + np.asarray(T, dtype=np.float64),
                           params.a, params.b + x, t)


def conditional_expected_purchases(params: BetaGeoParams, x: np.ndarray, t_x: np.ndarray,
                                   T: np.ndarray, t: np.ndarray | float) -> np.ndarray:
    """E[Y(t) | x, t_x, T]: expected purchases in (T, T+t] (FHL 2005 eq. 10)."""
    return p_alive(params, x, t_x, T) * expected_purchases_if_alive(params, x, T, t)


def _pmf_alive(n: np.ndarray, r: np.ndarray, alpha: np.ndarray, a: np.ndarray, b: np.ndarray,
               t: np.ndarray) -> np.ndarray:
    """P(X(t) = n) of a consumer alive at the start (FHL 2005 eq. 8), in log space."""
    n, r, alpha, a, b, t = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64)
                                                 for v in (n, r, alpha, a, b, t)))
    log_q = -np.log1p(t / alpha)
    z = t / (alpha + t)
    with np.errstate(divide="ignore", invalid="ignore"):
        first = np.exp(betaln(a, b + n) - betaln(a, b) + gammaln(r + n) - gammaln(r)
                       - gammaln(n + 1.0) + r * log_q + xlogy(n, z))
        m = np.maximum(n, 1.0)
        second = np.exp(betaln(a + 1.0, b + m - 1.0) - betaln(a, b)) * betainc(m, r, z)
    return first + np.where(n > 0, second, 0.0)


def pmf_new(params: BetaGeoParams, n: np.ndarray | int, t: np.ndarray | float) -> np.ndarray:
    """P(X(t) = n): probability that a new consumer makes exactly n repeat purchases in
    (0, t] (FHL 2005 eq. 8)."""
    return _pmf_alive(n, params.r, params.alpha, params.a, params.b, t)


def conditional_pmf(params: BetaGeoParams, n: np.ndarray | int, x: np.ndarray,
                    t_x: np.ndarray, T: np.ndarray, t: np.ndarray | float) -> np.ndarray:
    """P(Y(t) = n | x, t_x, T): exactly n purchases in (T, T+t] (Fader & Hardie, conditional
    PMF of the BG/NBD)."""
    x = np.asarray(x, dtype=np.float64)
    alive = p_alive(params, x, t_x, T)
    n = np.asarray(n)
    pmf = _pmf_alive(n, params.r + x, params.alpha + np.asarray(T, dtype=np.float64),
                     params.a, params.b + x, t)
    return np.where(n == 0, 1.0 - alive, 0.0) + alive * pmf


# ---- the model ----------------------------------------------------------------------------

class BetaGeoModel(ValueModel[BetaGeoParams, BetaGeoConfig]):
    """BG/NBD fitted on an :class:`RFMSummary` (days); predictions take horizons in days."""

    name = "bgnbd"
    params_type = BetaGeoParams
    config_type = BetaGeoConfig

    def _units(self, days: np.ndarray | float) -> np.ndarray:
        return np.asarray(days, dtype=np.float64) / self.config.time_scale

    def _fit(self, summary: RFMSummary) -> tuple[BetaGeoParams, FitReport]:
        if len(summary) == 0 or not np.any(summary.frequency > 0):
            raise ValueError("BG/NBD needs consumers with repeat purchases (the likelihood "
                             "has no maximum without any)")
        (x, t_x, T), _, counts = unique_rows(summary.frequency.astype(np.float64),
                                             self._units(summary.recency),
                                             self._units(summary.T))
        w = counts.astype(np.float64)
        mean_x = dot(w, x) / w.sum()
        mean_t = max(dot(w, T) / w.sum(), 1e-6)
        start = np.log([1.0, mean_t / max(mean_x, 0.1), 1.0, 1.0])
        theta, report = fit_log_params(_objective(x, t_x, T, w), start, self.config,
                                       float(w.sum()))
        r, al, a, b = (float(v) for v in np.exp(theta))
        return BetaGeoParams(r=r, alpha=al, a=a, b=b), report

    def log_likelihood(self, summary: RFMSummary) -> np.ndarray:
        """ln L of each consumer under the current parameters (model time unit)."""
        return log_likelihood(self.params, summary.frequency, self._units(summary.recency),
                              self._units(summary.T))

    def p_alive(self, summary: RFMSummary) -> np.ndarray:
        """P(alive at the end of calibration) per consumer."""
        return p_alive(self.params, summary.frequency, self._units(summary.recency),
                       self._units(summary.T))

    def expected_if_alive(self, frequency: np.ndarray, T: np.ndarray, *,
                          t: float) -> np.ndarray:
        """Expected purchases in the next ``t`` days of consumers alive now, given their
        frequency and T (days); each distinct (frequency, T) is evaluated once."""
        (ux, uT), inv, _ = unique_rows(np.asarray(frequency, dtype=np.float64),
                                       np.asarray(T, dtype=np.float64))
        return expected_purchases_if_alive(self.params, ux, self._units(uT),
                                           self._units(t))[inv]

    def expected_purchases(self, summary: RFMSummary, *, t: float) -> np.ndarray:
        """E[purchases in the next ``t`` days | x, t_x, T] per consumer (FHL 2005 eq. 10)."""
        return self.p_alive(summary) * self.expected_if_alive(summary.frequency, summary.T, t=t)

    def p_purchases(self, summary: RFMSummary, *, n: int, t: float) -> np.ndarray:
        """P(exactly ``n`` purchases in the next ``t`` days | x, t_x, T) per consumer."""
        return conditional_pmf(self.params, n, summary.frequency,
                               self._units(summary.recency), self._units(summary.T),
                               self._units(t))

    def expected_purchases_new(self, *, t: np.ndarray | float) -> np.ndarray:
        """E[X(t)]: expected repeat purchases of a new consumer in ``t`` days (eq. 9)."""
        return expected_purchases_new(self.params, self._units(t))

    def p_purchases_new(self, *, n: np.ndarray | int, t: np.ndarray | float) -> np.ndarray:
        """P(X(t) = n) for a new consumer over ``t`` days (FHL 2005 eq. 8)."""
        return pmf_new(self.params, n, self._units(t))
