"""Predictive CLV: discounting, spend, margin, propagation, churn deciles; lifetimes' CLV."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from siyu.value.bgnbd import BetaGeoModel, BetaGeoParams
from siyu.value.clv import churn_deciles, discounted_purchases, predictive_clv, step_ends
from siyu.value.gamma_gamma import GammaGammaModel, GammaGammaParams
from siyu.value.simulate import simulate_summary

BG = BetaGeoModel.from_params(BetaGeoParams(0.243, 4.414, 0.793, 2.426), time_scale=7)
GG = GammaGammaModel.from_params(GammaGammaParams(6.25, 3.74, 15.44))


@pytest.fixture(scope="module")
def summary():
    rng = np.random.default_rng(5)
    return simulate_summary(BG.params, n=3000, T=rng.integers(0, 365, 3000), seed=5,
                            gamma_gamma=GG.params, time_scale=7, whole_days=True)


def test_without_discount_the_steps_add_up_to_the_horizon(summary):
    disc, plain = discounted_purchases(BG, summary, horizon_days=365, discount_rate=0.0)
    expected = BG.expected_purchases(summary, t=365)
    np.testing.assert_allclose(disc, expected, rtol=1e-12)
    np.testing.assert_allclose(plain, expected, rtol=1e-12)


@pytest.mark.parametrize("step", ["month", "day", 7])
def test_discounting_matches_a_direct_sum(summary, step):
    res = predictive_clv(summary, BG, GG, horizon_days=200, discount_rate=0.10, margin=0.4,
                         step=step)
    ends = step_ends(200, step)
    cum = [np.zeros(len(summary))] + [BG.expected_purchases(summary, t=e) for e in ends]
    direct = sum((cum[k + 1] - cum[k]) * 1.1 ** (-ends[k] / 365) for k in range(ends.size))
    np.testing.assert_allclose(res.discounted_purchases, direct, rtol=1e-10, atol=1e-15)
    assert np.all(res.discounted_purchases <= res.expected_purchases + 1e-15)
    spend = GG.expected_spend(summary)
    np.testing.assert_allclose(res.clv, direct * spend * 0.4, rtol=1e-10, atol=1e-15)
    assert res.step == step and res.horizon_days == 200 and res.margin == 0.4


def test_propagation_total_and_churn(summary):
    realised = np.linspace(0.0, 500.0, len(summary))
    res = predictive_clv(summary, BG, GG, realised_propagation=realised, window_days=180)
    alive = BG.p_alive(summary)
    np.testing.assert_allclose(res.predicted_propagation, realised * alive * 365 / 180)
    np.testing.assert_allclose(res.total, res.clv + res.predicted_propagation)
    np.testing.assert_allclose(res.churn_risk, 1 - alive)
    assert set(np.unique(res.churn_decile)) <= set(range(1, 11))
    assert np.all(res.churn_decile[summary.frequency == 0] == 1)  # P(alive) = 1
    table = res.to_arrow()
    assert table.num_rows == len(summary) and "total" in table.column_names
    with pytest.raises(ValueError, match="one value per consumer"):
        predictive_clv(summary, BG, GG, realised_propagation=realised[:-1])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=300))
def test_churn_deciles_order_and_ties(values):
    risk = np.array(values)
    d = churn_deciles(risk)
    assert d.min() >= 1 and d.max() <= 10
    order = np.argsort(risk, kind="stable")
    assert np.all(np.diff(d[order]) >= 0)  # riskier, never a lower decile
    for v in np.unique(risk):  # equal risk, equal decile
        assert np.unique(d[risk == v]).size == 1


def test_churn_deciles_of_distinct_values_are_equal_sized():
    d = churn_deciles(np.random.default_rng(0).permutation(1000) / 1000)
    assert np.bincount(d, minlength=11)[1:].tolist() == [100] * 10


def test_step_ends():
    assert step_ends(365)[-1] == 365 and len(step_ends(365)) == 12
    assert step_ends(100, 30).tolist() == [30.0, 60.0, 90.0, 100.0]
    for bad in (0, -1):
        with pytest.raises(ValueError):
            step_ends(bad)
    with pytest.raises(ValueError):
        step_ends(10, "week")


def test_matches_lifetimes_clv(cdnow, lifetimes):
    """lifetimes discounts 30-day months at a monthly rate: the same sum with step=30 days and
    the equivalent yearly rate."""
    import pandas as pd

    bg = BetaGeoModel(time_scale=7)
    bg.fit(cdnow)
    gg = GammaGammaModel()
    gg.fit(cdnow)
    monthly = 0.01
    ours = predictive_clv(cdnow, bg, gg, horizon_days=360, step=30,
                          discount_rate=(1 + monthly) ** (365 / 30) - 1)
    p, g = bg.params, gg.params
    ref_bg = lifetimes.BetaGeoFitter()  # the same parameters, per day
    ref_bg.params_ = pd.Series({"r": p.r, "alpha": p.alpha * 7, "a": p.a, "b": p.b})
    ref_bg.predict = ref_bg.conditional_expected_number_of_purchases_up_to_time  # set by fit
    ref_gg = lifetimes.GammaGammaFitter()
    ref_gg.params_ = pd.Series({"p": g.p, "q": g.q, "v": g.gamma})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = ref_gg.customer_lifetime_value(
            ref_bg, pd.Series(cdnow.frequency), pd.Series(cdnow.recency), pd.Series(cdnow.T),
            pd.Series(cdnow.monetary), time=12, discount_rate=monthly, freq="D")
    np.testing.assert_allclose(ours.clv, ref.to_numpy(), rtol=1e-6)
