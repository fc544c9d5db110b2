"""rfm_summary: the CDNOW conventions on a hand-built log, input forms, CDNOW itself."""

from __future__ import annotations

import datetime as dt
import warnings
import zoneinfo

import numpy as np
import pyarrow as pa
import pytest

from siyu.value.summary import RFMSummary, rfm_summary

D = dt.date
LOG = [  # consumer, date, amount (deliberately out of order)
    ("a", D(2025, 1, 5), 20.0),
    ("a", D(2025, 1, 1), 10.0),
    ("c", D(2025, 1, 20), 8.0),
    ("a", D(2025, 1, 1), 5.0),     # same day as the one above: one transaction of 15
    ("a", D(2025, 1, 31), 30.0),   # on calibration_end: included
    ("b", D(2025, 1, 31), 9.0),    # first purchase on calibration_end: T = 0
    ("a", D(2025, 2, 3), 40.0),    # holdout
    ("a", D(2025, 2, 3), 1.0),     # holdout, same day: one transaction
    ("c", D(2025, 1, 10), 12.0),
    ("d", D(2025, 2, 1), 50.0),    # first purchase after calibration: not a customer yet
    ("b", D(2025, 2, 9), 3.0),     # on observation_end: in the holdout
    ("c", D(2025, 1, 20), 4.0),    # same day as c's 8.0
    ("a", D(2025, 2, 10), 99.0),   # after observation_end: ignored
]
CAL, OBS = D(2025, 1, 31), D(2025, 2, 9)


def as_columns(rows=LOG):
    ids, dates, amounts = zip(*rows, strict=True)
    return {"consumer_id": list(ids), "date": list(dates), "amount": list(amounts)}


def test_exact_numbers():
    s = rfm_summary(as_columns(), calibration_end=CAL, observation_end=OBS)
    assert s.consumer_id.tolist() == ["a", "b", "c"]
    assert s.frequency.tolist() == [2, 0, 1]
    assert s.recency.tolist() == [30.0, 0.0, 10.0]
    assert s.T.tolist() == [30.0, 0.0, 21.0]
    # repeat transactions only: a (20 + 30) / 2, c (8 + 4) / 1; b has none
    assert s.monetary.tolist() == [25.0, 0.0, 12.0]
    assert s.holdout_frequency.tolist() == [1, 1, 0]
    assert s.calibration_start == D(2025, 1, 1)
    assert (s.calibration_end, s.observation_end, s.holdout_days) == (CAL, OBS, 9)


def test_without_observation_end_later_purchases_are_ignored():
    s = rfm_summary(as_columns(), calibration_end="2025-01-31")
    assert s.holdout_frequency is None and s.observation_end is None
    assert s.frequency.tolist() == [2, 0, 1]
    assert s.monetary.tolist() == [25.0, 0.0, 12.0]


def test_arrow_table_tuple_and_timestamps_give_the_same_summary():
    cols = as_columns()
    ref = rfm_summary(cols, calibration_end=CAL, observation_end=OBS)
    table = pa.table({"cid": pa.array(cols["consumer_id"]),
                      "day": pa.array(cols["date"], pa.date32()),
                      "amt": pa.array(cols["amount"])})
    from_table = rfm_summary(table, calibration_end=CAL, observation_end=OBS,
                             id_col="cid", date_col="day", amount_col="amt")
    shanghai = zoneinfo.ZoneInfo("Asia/Shanghai")  # 00:30 there is the previous day in UTC
    stamps = pa.array([dt.datetime.combine(d, dt.time(0, 30), shanghai) for d in cols["date"]],
                      pa.timestamp("us", tz="Asia/Shanghai"))
    from_tuple = rfm_summary((np.array(cols["consumer_id"]), stamps, cols["amount"]),
                             calibration_end=CAL, observation_end=OBS)
    for s in (from_table, from_tuple):
        assert s.consumer_id.tolist() == ref.consumer_id.tolist()
        for name in ("frequency", "recency", "T", "monetary", "holdout_frequency"):
            assert getattr(s, name).tolist() == getattr(ref, name).tolist(), name
        assert s.digest() == ref.digest()


def test_to_arrow_and_select():
    s = rfm_summary(as_columns(), calibration_end=CAL, observation_end=OBS)
    t = s.to_arrow()
    assert t.column_names == ["consumer_id", "frequency", "recency", "T", "monetary",
                              "holdout_frequency"]
    sub = s.select(s.frequency > 0)
    assert sub.consumer_id.tolist() == ["a", "c"] and sub.holdout_frequency.tolist() == [1, 0]


def test_empty_and_bad_input():
    s = rfm_summary({"consumer_id": [], "date": np.array([], "datetime64[D]"), "amount": []},
                    calibration_end=CAL)
    assert len(s) == 0 and s.calibration_start is None
    with pytest.raises(ValueError, match="observation_end"):
        rfm_summary(as_columns(), calibration_end=CAL, observation_end=D(2025, 1, 1))
    with pytest.raises(ValueError, match="null"):
        rfm_summary(pa.table({"consumer_id": ["a"], "date": pa.array([None], pa.date32()),
                              "amount": [1.0]}), calibration_end=CAL)
    with pytest.raises(TypeError):
        rfm_summary("orders.csv", calibration_end=CAL)


def test_from_arrays_validates():
    with pytest.raises(ValueError, match="within"):
        RFMSummary.from_arrays([1], [5.0], [4.0])
    with pytest.raises(ValueError, match="0 when frequency"):
        RFMSummary.from_arrays([0], [1.0], [4.0])
    with pytest.raises(ValueError, match="non-negative integers"):
        RFMSummary.from_arrays([1.5], [1.0], [4.0])
    a = RFMSummary.from_arrays([1, 0], [2.0, 0.0], [4.0, 3.0], [10.0, 0.0])
    b = RFMSummary.from_arrays([1, 0], [2.0, 0.0], [4.0, 3.0], [10.5, 0.0])
    assert a.digest() != b.digest() and len(a.digest()) == 64


def test_cdnow_calibration_summary(cdnow):
    assert len(cdnow) == 2357
    assert cdnow.calibration_start == D(1997, 1, 1)
    # the cohort's first purchases fall in the first 12 weeks of 1997 (1 January – 25 March)
    assert cdnow.T.max() == 272 and cdnow.T.min() == (D(1997, 9, 30) - D(1997, 3, 25)).days
    assert int((cdnow.frequency > 0).sum()) == 946  # the repeat buyers Gamma-Gamma uses
    assert int(cdnow.frequency.sum()) == 2457  # repeat transactions in calibration


def test_cdnow_summary_equals_lifetimes_daily_summary(cdnow, cdnow_transactions, lifetimes):
    import pandas as pd
    from lifetimes.utils import summary_data_from_transaction_data

    df = pd.DataFrame(cdnow_transactions)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = summary_data_from_transaction_data(
            df, "consumer_id", "date", monetary_value_col="amount",
            observation_period_end="1997-09-30", freq="D")
    ref = ref.loc[cdnow.consumer_id]
    np.testing.assert_array_equal(cdnow.frequency, ref["frequency"].to_numpy())
    np.testing.assert_array_equal(cdnow.recency, ref["recency"].to_numpy())
    np.testing.assert_array_equal(cdnow.T, ref["T"].to_numpy())
    np.testing.assert_allclose(cdnow.monetary, ref["monetary_value"].to_numpy(), rtol=1e-12)
