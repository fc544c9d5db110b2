"""Gamma-Gamma: CDNOW published estimates, lifetimes as reference, gradient, recovery."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from siyu.value import gamma_gamma
from siyu.value.bgnbd import BetaGeoParams
from siyu.value.gamma_gamma import GammaGammaModel, GammaGammaParams, independence_check
from siyu.value.simulate import simulate_summary
from siyu.value.summary import RFMSummary
from tests.value.helpers import central_gradient, hessian, z_scores

# Fader & Hardie (2013), "The Gamma-Gamma model of monetary value": CDNOW 1/10 sample, the
# 946 consumers with repeat purchases in the 39-week calibration
PUBLISHED = {"p": 6.25, "q": 3.74, "gamma": 15.44}


@pytest.fixture(scope="module")
def cdnow_gg(cdnow) -> GammaGammaModel:
    m = GammaGammaModel()
    m.fit(cdnow)
    return m


def test_cdnow_reproduces_the_published_estimates(cdnow_gg):
    for k, v in PUBLISHED.items():
        assert getattr(cdnow_gg.params, k) == pytest.approx(v, rel=0.01), k
    rep = cdnow_gg.fit_report
    assert rep.converged, rep.message
    assert rep.n_consumers == 946


def test_cdnow_independence_check(cdnow):
    # Fader & Hardie report a correlation of 0.11 between frequency and mean spend
    assert round(independence_check(cdnow.frequency, cdnow.monetary), 2) == 0.11


def test_matches_lifetimes(cdnow, cdnow_gg, lifetimes):
    import pandas as pd

    rep = cdnow.frequency > 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = lifetimes.GammaGammaFitter().fit(cdnow.frequency[rep], cdnow.monetary[rep])
    p = cdnow_gg.params
    for ours, theirs in (("p", "p"), ("q", "q"), ("gamma", "v")):
        assert getattr(p, ours) == pytest.approx(fitted.params_[theirs], rel=1e-4)
    ref = lifetimes.GammaGammaFitter()
    ref.params_ = pd.Series({"p": p.p, "q": p.q, "v": p.gamma})
    expected = ref.conditional_expected_average_profit(pd.Series(cdnow.frequency),
                                                       pd.Series(cdnow.monetary))
    np.testing.assert_allclose(cdnow_gg.expected_spend(cdnow), expected, rtol=1e-6)


def test_expected_spend_is_a_weighted_mean_of_own_and_population_mean():
    m = GammaGammaModel.from_params(GammaGammaParams(p=6.25, q=3.74, gamma=15.44))
    s = RFMSummary.from_arrays([0, 1, 10, 3], [0.0, 5.0, 50.0, 9.0], [60.0] * 4,
                               [0.0, 100.0, 100.0, -5.0])
    pop = m.population_mean()
    spend = m.expected_spend(s)
    assert spend[0] == pytest.approx(pop) and spend[3] == pytest.approx(pop)  # m̄ ≤ 0: none
    w1, w10 = (6.25 * 1) / (6.25 + 2.74), (6.25 * 10) / (62.5 + 2.74)
    assert spend[1] == pytest.approx((1 - w1) * pop + w1 * 100)
    assert spend[2] == pytest.approx((1 - w10) * pop + w10 * 100)
    assert pop < spend[1] < spend[2] < 100
    assert GammaGammaModel.from_params(GammaGammaParams(1.0, 0.9, 1.0)).population_mean() \
        == float("inf")


def test_needs_repeat_buyers():
    s = RFMSummary.from_arrays([0, 1], [0.0, 2.0], [5.0, 5.0], [0.0, 3.0])
    with pytest.raises(ValueError, match="two consumers"):
        GammaGammaModel().fit(s)
    assert np.isnan(independence_check(s.frequency, s.monetary))


@settings(max_examples=60, deadline=None)
@given(st.floats(0.05, 30.0), st.floats(0.05, 30.0), st.floats(0.05, 100.0),
       st.integers(0, 2**32 - 1))
def test_analytic_gradient_matches_finite_differences(p, q, g, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 10, 60).astype(float)
    m = rng.gamma(2.0, 10.0, 60) + 0.01
    f = gamma_gamma._objective(x, m)
    theta = np.log([p, q, g])
    np.testing.assert_allclose(f(theta)[1], central_gradient(lambda th: f(th)[0], theta),
                               rtol=1e-4, atol=1e-6)
    total = gamma_gamma.log_likelihood(GammaGammaParams(p, q, g), x, m).sum()
    assert -f(theta)[0] * 60 == pytest.approx(total, rel=1e-10, abs=1e-8)


@pytest.mark.parametrize("seed", [21, 22])
def test_recovers_simulated_parameters(seed):
    """About 8,000 simulated repeat buyers: every log-estimate within 4 standard errors (from
    the observed information) of the truth."""
    truth = GammaGammaParams(p=6.0, q=4.0, gamma=15.0)
    s = simulate_summary(BetaGeoParams(0.5, 4.0, 0.8, 2.5), n=15_000, T=52 * 7, seed=seed,
                         gamma_gamma=truth, time_scale=7)
    m = GammaGammaModel()
    est = m.fit(s)
    assert m.fit_report.converged
    rep = s.frequency > 0
    f = gamma_gamma._objective(s.frequency[rep].astype(float), s.monetary[rep])
    theta = np.log([est.p, est.q, est.gamma])
    z = z_scores(theta, np.log([truth.p, truth.q, truth.gamma]),
                 hessian(lambda th: f(th)[1], theta), int(rep.sum()))
    assert np.all(np.abs(z) < 4), z
