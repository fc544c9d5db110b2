"""Calibration / holdout check of a BG/NBD fit (FHL 2005, Figure 4 and §4).

The model is fitted on the calibration period; for each consumer it predicts the purchases
in the holdout (calibration_end, observation_end], E[Y(h) | x, t_x, T] with h the holdout
length, which are compared with the purchases made there (``holdout_frequency`` of an
:class:`~siyu.value.summary.RFMSummary` built with an ``observation_end``). Consumers are
grouped by calibration frequency 0, 1, …, ``max_group``−1 and ``max_group``+ (default 7+);
per group the table has the consumers and the mean and total of predicted and actual
purchases. Overall: total error = Σ predicted − Σ actual, and the mean absolute error
per consumer, mean |predicted − actual|.

>>> from siyu.value.bgnbd import BetaGeoModel, BetaGeoParams
>>> from siyu.value.summary import RFMSummary
>>> s = RFMSummary.from_arrays([0, 1, 8], [0.0, 10.0, 90.0], [100.0, 100.0, 100.0],
...                            holdout_frequency=[0, 1, 3])
>>> bg = BetaGeoModel.from_params(BetaGeoParams(0.243, 4.414, 0.793, 2.426), time_scale=7)
>>> ev = holdout_evaluation(bg, s, holdout_days=70)
>>> [(r["frequency"], r["consumers"], r["actual_mean"]) for r in ev.rows]  # doctest: +ELLIPSIS
[('0', 1, 0.0), ('1', 1, 1.0), ..., ('7+', 1, 3.0)]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from siyu.value.bgnbd import BetaGeoModel
from siyu.value.summary import RFMSummary

__all__ = ["HoldoutEvaluation", "holdout_evaluation"]


@dataclass(frozen=True)
class HoldoutEvaluation:
    """Predicted vs actual holdout purchases: ``rows`` per calibration-frequency group
    (chart-ready dicts: frequency, consumers, predicted_mean, actual_mean, predicted_total,
    actual_total) and the overall figures."""

    holdout_days: float
    rows: list[dict[str, Any]] = field(default_factory=list)
    predicted_total: float = 0.0
    actual_total: float = 0.0
    total_error: float = 0.0
    """Σ predicted − Σ actual."""
    mean_absolute_error: float = 0.0
    """Mean over consumers of |predicted − actual|."""

    def to_arrow(self) -> pa.Table:
        return pa.Table.from_pylist(self.rows)


def holdout_evaluation(model: BetaGeoModel, summary: RFMSummary, *,
                       holdout_days: float | None = None,
                       max_group: int = 7) -> HoldoutEvaluation:
    """Compare ``model``'s predictions for the holdout with ``summary.holdout_frequency``.

    ``holdout_days`` defaults to observation_end − calibration_end of the summary.
    """
    if summary.holdout_frequency is None:
        raise ValueError("the summary has no holdout: build it with an observation_end")
    h = summary.holdout_days if holdout_days is None else holdout_days
    if h is None or h <= 0:
        raise ValueError("holdout_days must be positive (or the summary must have "
                         "an observation_end after its calibration_end)")
    if max_group < 1:
        raise ValueError("max_group must be at least 1")
    predicted = model.expected_purchases(summary, t=h)
    actual = summary.holdout_frequency.astype(np.float64)
    group = np.minimum(summary.frequency, max_group)
    rows = []
    for g in range(max_group + 1):
        sel = group == g
        k = int(sel.sum())
        pred_t, act_t = float(predicted[sel].sum()), float(actual[sel].sum())
        rows.append({
            "frequency": f"{g}+" if g == max_group else str(g),
            "consumers": k,
            "predicted_mean": pred_t / k if k else None,
            "actual_mean": act_t / k if k else None,
            "predicted_total": pred_t,
            "actual_total": act_t,
        })
    pred_all, act_all = float(predicted.sum()), float(actual.sum())
    mae = float(np.mean(np.abs(predicted - actual))) if len(summary) else 0.0
    return HoldoutEvaluation(holdout_days=float(h), rows=rows, predicted_total=pred_all,
                             actual_total=act_all, total_error=pred_all - act_all,
                             mean_absolute_error=mae)
