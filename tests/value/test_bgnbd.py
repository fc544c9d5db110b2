"""BG/NBD: CDNOW published estimates, lifetimes as reference, properties, recovery."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from siyu.value import bgnbd
from siyu.value.bgnbd import BetaGeoModel, BetaGeoParams
from siyu.value.simulate import simulate_summary
from tests.value.helpers import central_gradient, hessian, z_scores

# Fader, Hardie & Lee (2005), Table 1 / §4: CDNOW 1/10 sample, 39-week calibration, weeks
PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PUBLISHED_LL = -9582.4

PROPS = settings(max_examples=60, deadline=None)
positive = st.floats(0.02, 30.0)
params_st = st.builds(BetaGeoParams, positive, positive, positive, positive)


@pytest.fixture(scope="module")
def cdnow_weeks(cdnow) -> BetaGeoModel:
    m = BetaGeoModel(time_scale=7)
    m.fit(cdnow)
    return m


def test_cdnow_reproduces_the_published_estimates(cdnow_weeks):
    p, rep = cdnow_weeks.params, cdnow_weeks.fit_report
    for k, v in PUBLISHED.items():
        assert getattr(p, k) == pytest.approx(v, rel=0.01), k
    assert rep.converged, rep.message
    assert rep.log_likelihood == pytest.approx(PUBLISHED_LL, abs=0.05)
    assert rep.n_consumers == 2357


def test_time_scale_changes_only_alpha(cdnow, cdnow_weeks):
    days = BetaGeoModel(time_scale=1)
    p = days.fit(cdnow)
    w = cdnow_weeks.params
    assert p.alpha / 7 == pytest.approx(w.alpha, rel=1e-5)
    for k in ("r", "a", "b"):
        assert getattr(p, k) == pytest.approx(getattr(w, k), rel=1e-5)
    # the same consumers, the same predictions whatever the unit
    np.testing.assert_allclose(days.expected_purchases(cdnow, t=100),
                               cdnow_weeks.expected_purchases(cdnow, t=100), rtol=1e-5)
    # densities of times: ln L in days = ln L in weeks − Σx ln 7
    shift = cdnow.frequency.sum() * np.log(7)
    assert days.fit_report.log_likelihood == pytest.approx(
        cdnow_weeks.fit_report.log_likelihood - shift, abs=1e-4)


def _lifetimes_bg(lifetimes, p: BetaGeoParams):
    import pandas as pd

    bg = lifetimes.BetaGeoFitter()
    bg.params_ = pd.Series({"r": p.r, "alpha": p.alpha, "a": p.a, "b": p.b})
    return bg


def test_matches_lifetimes(cdnow, cdnow_weeks, lifetimes):
    x, t_x, T = cdnow.frequency, cdnow.recency / 7, cdnow.T / 7
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = lifetimes.BetaGeoFitter().fit(x, t_x, T)
    for k in ("r", "alpha", "a", "b"):
        assert getattr(cdnow_weeks.params, k) == pytest.approx(fitted.params_[k], rel=1e-4)
    ref = _lifetimes_bg(lifetimes, cdnow_weeks.params)  # same parameters: compare formulas
    for weeks in (1, 10, 39, 52, 104):
        np.testing.assert_allclose(
            cdnow_weeks.expected_purchases(cdnow, t=7 * weeks),
            ref.conditional_expected_number_of_purchases_up_to_time(weeks, x, t_x, T),
            rtol=1e-6)
        assert float(cdnow_weeks.expected_purchases_new(t=7 * weeks)) == pytest.approx(
            ref.expected_number_of_purchases_up_to_time(weeks), rel=1e-6)
    np.testing.assert_allclose(cdnow_weeks.p_alive(cdnow),
                               ref.conditional_probability_alive(x, t_x, T), rtol=1e-6)
    for n in range(6):
        assert float(cdnow_weeks.p_purchases_new(n=n, t=39 * 7)) == pytest.approx(
            ref.probability_of_n_purchases_up_to_time(39, n), rel=1e-6)


def test_cdnow_conditional_pmf_sums_to_one_and_matches_the_expectation(cdnow, cdnow_weeks):
    n = np.arange(400)[:, None]
    pmf = cdnow_weeks.p_purchases(cdnow, n=n, t=39 * 7)
    np.testing.assert_allclose(pmf.sum(axis=0), 1.0, atol=1e-9)
    np.testing.assert_allclose((n * pmf).sum(axis=0),
                               cdnow_weeks.expected_purchases(cdnow, t=39 * 7), rtol=1e-7)


@PROPS
@given(params_st, st.integers(0, 300), st.floats(0.0, 1.0), st.floats(0.0, 2000.0))
def test_p_alive_is_a_probability_and_one_without_repeats(p, x, share, T):
    alive = bgnbd.p_alive(p, np.array([x, 0]), np.array([share * T, 0.0]), np.array([T, T]))
    assert np.all((alive >= 0) & (alive <= 1))
    assert alive[1] == 1.0
    if x > 0 and share == 1.0:  # bought at the very end: as alive as a model allows
        assert alive[0] == pytest.approx(1 / (1 + p.a / (p.b + x - 1)))


@PROPS
@given(params_st, st.integers(0, 300), st.floats(0.0, 1.0), st.floats(0.0, 2000.0),
       st.lists(st.floats(0.0, 5000.0), min_size=2, max_size=6))
def test_expected_purchases_grow_with_the_horizon(p, x, share, T, horizons):
    t = np.sort(np.array(horizons))
    e = bgnbd.conditional_expected_purchases(p, x, share * T, T, t)
    assert np.all(np.isfinite(e)) and np.all(e >= 0)
    assert np.all(np.diff(e) >= -1e-9 * (1 + e[1:]))
    new = bgnbd.expected_purchases_new(p, t)
    assert np.all(np.diff(new) >= -1e-9 * (1 + new[1:]))


@PROPS
@given(st.builds(BetaGeoParams, st.floats(0.05, 3.0), st.floats(1.0, 50.0), positive,
                 positive),
       st.floats(0.1, 50.0), st.integers(0, 50), st.floats(0.0, 1.0), st.floats(0.0, 200.0))
def test_pmf_sums_to_one_and_its_mean_is_the_expectation(p, t, x, share, T):
    """Eq. 8 (through betainc) and eq. 9/10 (through ₂F₁ or the quadrature) agree."""
    n = np.arange(5000)  # t/(α+t) ≤ 50/51: the tail beyond is below e^−99
    new = bgnbd.pmf_new(p, n, t)
    assert new.sum() == pytest.approx(1.0, abs=1e-8)
    assert n @ new == pytest.approx(float(bgnbd.expected_purchases_new(p, t)), rel=1e-6,
                                    abs=1e-10)
    cond = bgnbd.conditional_pmf(p, n, x, share * T, T, t)
    assert cond.sum() == pytest.approx(1.0, abs=1e-8)
    assert n @ cond == pytest.approx(
        float(bgnbd.conditional_expected_purchases(p, x, share * T, T, t)), rel=1e-6,
        abs=1e-10)


@PROPS
@given(st.builds(BetaGeoParams, st.floats(0.05, 20.0), st.floats(0.05, 200.0),
                 st.floats(0.05, 20.0), st.floats(0.05, 20.0)),
       st.integers(0, 500), st.floats(0.0, 1000.0), st.floats(0.01, 3000.0))
def test_hyp2f1_route_agrees_with_direct_integration(p, x, T, t):
    """Eq. 10 through the transformed ₂F₁ against E_p[(1 − (α/(α+pt))^r)/p] by quadrature."""
    args = [np.array([v], dtype=float) for v in (p.r + x, p.alpha + T, p.a, p.b + x, t)]
    closed = bgnbd._expected_alive(*args)
    direct = bgnbd._expected_alive_quadrature(*args)
    np.testing.assert_allclose(closed, direct, rtol=1e-6, atol=1e-12)


def test_hard_region_stays_finite():
    """Heavy buyers far in the future, where ₂F₁(r+x, b+x; a+b+x−1; z) itself overflows."""
    p = BetaGeoParams(r=0.24, alpha=4.4, a=0.79, b=2.4)
    x = np.array([0, 50, 500, 2000])
    e = bgnbd.conditional_expected_purchases(p, x, np.array([0, 50, 500, 1000.0]),
                                             np.full(4, 1000.0), 5000.0)
    assert np.all(np.isfinite(e)) and np.all(e >= 0)
    near_one = bgnbd.expected_purchases_new(BetaGeoParams(0.5, 2.0, 1.0, 3.0), [1.0, 10.0])
    assert np.all(np.isfinite(near_one)) and near_one[1] > near_one[0] > 0


@PROPS
@given(params_st, st.integers(0, 2**32 - 1))
def test_analytic_gradient_matches_finite_differences(p, seed):
    rng = np.random.default_rng(seed)
    n = 50
    x = rng.integers(0, 8, n).astype(float)
    T = rng.uniform(1.0, 60.0, n)
    t_x = np.where(x > 0, rng.uniform(0.0, 1.0, n) * T, 0.0)
    f = bgnbd._objective(x, t_x, T, rng.integers(1, 4, n).astype(float))
    theta = np.log([p.r, p.alpha, p.a, p.b])
    np.testing.assert_allclose(f(theta)[1], central_gradient(lambda th: f(th)[0], theta),
                               rtol=1e-4, atol=1e-6)


def test_objective_equals_the_per_consumer_likelihood():
    rng = np.random.default_rng(3)
    x = rng.integers(0, 6, 40).astype(float)
    T = rng.uniform(1.0, 40.0, 40)
    t_x = np.where(x > 0, rng.uniform(0.0, 1.0, 40) * T, 0.0)
    p = BetaGeoParams(0.4, 3.0, 0.9, 2.0)
    value, _ = bgnbd._objective(x, t_x, T, np.ones(40))(np.log([0.4, 3.0, 0.9, 2.0]))
    assert -value * 40 == pytest.approx(bgnbd.log_likelihood(p, x, t_x, T).sum(), rel=1e-12)


@pytest.mark.parametrize("seed", [11, 12])
def test_recovers_simulated_parameters(seed):
    """20,000 simulated consumers observed 1–52 weeks: every log-estimate within 4 standard
    errors (from the observed information) of the truth."""
    truth = BetaGeoParams(r=0.25, alpha=4.0, a=0.8, b=2.5)
    rng = np.random.default_rng(seed)
    s = simulate_summary(truth, n=20_000, T=rng.integers(7, 365, 20_000), seed=seed,
                         time_scale=7)
    m = BetaGeoModel(time_scale=7)
    est = m.fit(s)
    assert m.fit_report.converged
    x, t_x, T = s.frequency.astype(float), s.recency / 7, s.T / 7
    f = bgnbd._objective(x, t_x, T, np.ones(len(s)))
    theta = np.log([est.r, est.alpha, est.a, est.b])
    z = z_scores(theta, np.log([truth.r, truth.alpha, truth.a, truth.b]),
                 hessian(lambda th: f(th)[1], theta), len(s))
    assert np.all(np.abs(z) < 4), z
