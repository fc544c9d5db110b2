"""Holdout evaluation: grouping, totals, errors; CDNOW calibration / holdout."""

from __future__ import annotations

import numpy as np
import pytest

from siyu.value.bgnbd import BetaGeoModel, BetaGeoParams
from siyu.value.evaluate import holdout_evaluation
from siyu.value.summary import RFMSummary

BG = BetaGeoModel.from_params(BetaGeoParams(0.243, 4.414, 0.793, 2.426), time_scale=7)


def test_groups_and_totals():
    s = RFMSummary.from_arrays([0, 0, 1, 3, 9, 12], [0, 0, 5, 20, 60, 80.0], [90.0] * 6,
                               holdout_frequency=[0, 1, 2, 0, 4, 7])
    ev = holdout_evaluation(BG, s, holdout_days=30, max_group=3)
    pred = BG.expected_purchases(s, t=30)
    assert [r["frequency"] for r in ev.rows] == ["0", "1", "2", "3+"]
    assert [r["consumers"] for r in ev.rows] == [2, 1, 0, 3]
    assert ev.rows[2]["predicted_mean"] is None and ev.rows[2]["actual_total"] == 0.0
    assert ev.rows[3]["actual_total"] == 11.0 and ev.rows[3]["actual_mean"] == pytest.approx(
        11 / 3)
    assert ev.rows[3]["predicted_total"] == pytest.approx(pred[3:].sum())
    assert ev.predicted_total == pytest.approx(pred.sum()) and ev.actual_total == 14.0
    assert ev.total_error == pytest.approx(pred.sum() - 14.0)
    assert ev.mean_absolute_error == pytest.approx(
        np.mean(np.abs(pred - [0, 1, 2, 0, 4, 7])))
    assert ev.to_arrow().num_rows == 4


def test_needs_a_holdout():
    s = RFMSummary.from_arrays([0], [0.0], [10.0])
    with pytest.raises(ValueError, match="no holdout"):
        holdout_evaluation(BG, s)
    s = RFMSummary.from_arrays([0], [0.0], [10.0], holdout_frequency=[0])
    with pytest.raises(ValueError, match="holdout_days"):
        holdout_evaluation(BG, s)  # no dates to take the holdout length from


def test_cdnow_holdout(cdnow):
    m = BetaGeoModel(time_scale=7)
    m.fit(cdnow)
    ev = holdout_evaluation(m, cdnow)
    assert ev.holdout_days == 273  # 39 weeks, 1997-10-01 … 1998-06-30
    assert [r["frequency"] for r in ev.rows][-1] == "7+"
    assert sum(r["consumers"] for r in ev.rows) == 2357
    assert [r["consumers"] for r in ev.rows][:3] == [1411, 439, 214]
    assert ev.actual_total == 1882  # distinct purchase days in the holdout
    assert sum(r["predicted_total"] for r in ev.rows) == pytest.approx(ev.predicted_total)
    # the BG/NBD under-forecasts this holdout by about an eighth (1,653 against 1,882)
    assert ev.predicted_total == pytest.approx(1653.4, abs=0.1)
    means = [r["predicted_mean"] for r in ev.rows]
    assert means == sorted(means)  # more past purchases, more expected
