"""Frequency / recency / T / monetary summary of a transaction log, the input of every model.

For each consumer whose first purchase is on or before ``calibration_end`` (all dates are
brand-local calendar dates, DOMAIN.md §1), over the purchases up to ``calibration_end``
*inclusive*:

    transaction  one calendar day with at least one purchase; purchases on the same day are
                 one transaction whose amount is their sum
    frequency    x   = number of transaction days − 1 (repeat transactions)
    recency      t_x = last transaction date − first transaction date, in days
    T            T   = calibration_end − first transaction date, in days
    monetary     m̄   = mean amount of the *repeat* transactions (the first one excluded),
                       0 when x = 0
    holdout      x*  = number of transaction days in (calibration_end, observation_end],
                       only when ``observation_end`` is given

These are the conventions of Fader, Hardie & Lee (2005), "Counting your customers the easy
way: an alternative to the Pareto/NBD model", *Marketing Science* 24(2), 275–284, and of
Fader & Hardie, "The Gamma-Gamma model of monetary value" (2013 note), which reproduce the
published CDNOW estimates. Consumers whose first purchase falls after ``calibration_end``
are not in the summary (they are not yet customers at the end of calibration).

The result is an :class:`RFMSummary`: a frozen dataclass of NumPy arrays, one entry per
consumer, sorted by consumer id. Every model of :mod:`siyu.value` takes it.

>>> import datetime as dt
>>> s = rfm_summary({"consumer_id": ["a", "a", "a", "b"],
...                  "date": [dt.date(2025, 1, 1), dt.date(2025, 1, 1), dt.date(2025, 1, 11),
...                           dt.date(2025, 1, 5)],
...                  "amount": [10.0, 5.0, 20.0, 7.0]},
...                 calibration_end=dt.date(2025, 1, 31))
>>> s.frequency.tolist(), s.recency.tolist(), s.T.tolist(), s.monetary.tolist()
([1, 0], [10.0, 0.0], [30.0, 26.0], [20.0, 0.0])
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["RFMSummary", "rfm_summary", "as_day_number"]

_EPOCH = np.datetime64("1970-01-01", "D")


def as_day_number(value: Any) -> np.ndarray:
    """Calendar dates (``datetime.date``, ISO strings, ``datetime64``, a pyarrow date or
    timestamp array) → int64 days since 1970-01-01. A timestamp counts on its date in its
    own zone (a zoned pyarrow timestamp: its wall clock there; convert to the brand's zone
    first); naive timestamps are truncated as they are."""
    if isinstance(value, pa.ChunkedArray):
        value = value.combine_chunks()
    if isinstance(value, pa.Array):
        if pa.types.is_timestamp(value.type) and value.type.tz is not None:
            value = pc.local_timestamp(value)  # the wall clock of its own zone
        if value.null_count:
            raise ValueError("dates must not be null")
        value = value.to_numpy(zero_copy_only=False)
    arr = np.asarray(value)
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64)
    return (arr.astype("datetime64[D]") - _EPOCH).astype(np.int64)


def _date(day: int | None) -> dt.date | None:
    return None if day is None else dt.date(1970, 1, 1) + dt.timedelta(days=int(day))


@dataclass(frozen=True, eq=False)
class RFMSummary:
    """Per-consumer summary (all times in days). See the module docstring for definitions.

    ``calibration_start`` is the earliest first purchase in the summary (``None`` for
    simulated data); ``holdout_frequency`` is ``None`` without an ``observation_end``.
    """

    consumer_id: np.ndarray
    frequency: np.ndarray
    recency: np.ndarray
    T: np.ndarray
    monetary: np.ndarray
    calibration_end: dt.date | None = None
    calibration_start: dt.date | None = None
    holdout_frequency: np.ndarray | None = None
    observation_end: dt.date | None = None
    _hash: list[str] = field(default_factory=list, init=False, repr=False, compare=False)

    @classmethod
    def from_arrays(cls, frequency: Any, recency: Any, T: Any, monetary: Any = None, *,
                    consumer_id: Any = None, holdout_frequency: Any = None,
                    calibration_end: dt.date | None = None,
                    calibration_start: dt.date | None = None,
                    observation_end: dt.date | None = None) -> RFMSummary:
        """A summary from ready arrays (simulations, other tools), validated:
        ``0 ≤ recency ≤ T``, ``frequency ≥ 0`` integer, recency 0 when frequency is 0."""
        x = np.asarray(frequency)
        if x.size and (np.any(x < 0) or np.any(x != np.round(x))):
            raise ValueError("frequency must be non-negative integers")
        x = x.astype(np.int64)
        t_x = np.asarray(recency, dtype=np.float64)
        big_t = np.asarray(T, dtype=np.float64)
        n = x.shape[0]
        m = np.zeros(n) if monetary is None else np.asarray(monetary, dtype=np.float64)
        for name, a in (("recency", t_x), ("T", big_t), ("monetary", m)):
            if a.shape != (n,):
                raise ValueError(f"{name} must have the shape of frequency, {(n,)}")
            if not np.all(np.isfinite(a)):
                raise ValueError(f"{name} must be finite")
        if np.any(t_x < 0) or np.any(t_x > big_t):
            raise ValueError("recency must be within [0, T]")
        if np.any(t_x[x == 0] != 0):
            raise ValueError("recency must be 0 when frequency is 0")
        ids = np.arange(n) if consumer_id is None else np.asarray(consumer_id)
        hold = None
        if holdout_frequency is not None:
            hold = np.asarray(holdout_frequency).astype(np.int64)
        return cls(ids, x, t_x, big_t, m, calibration_end, calibration_start, hold,
                   observation_end)

    def __len__(self) -> int:
        return int(self.frequency.shape[0])

    def select(self, mask: np.ndarray) -> RFMSummary:
        """The consumers where ``mask`` (boolean or index array) holds."""
        hold = None if self.holdout_frequency is None else self.holdout_frequency[mask]
        return RFMSummary(self.consumer_id[mask], self.frequency[mask], self.recency[mask],
                          self.T[mask], self.monetary[mask], self.calibration_end,
                          self.calibration_start, hold, self.observation_end)

    @property
    def holdout_days(self) -> int | None:
        """Length of the holdout period (calibration_end, observation_end] in days."""
        if self.observation_end is None or self.calibration_end is None:
            return None
        return (self.observation_end - self.calibration_end).days

    def digest(self) -> str:
        """SHA-256 of the model inputs (frequency, recency, T, monetary as little-endian
        float64), so a saved model names the data it was fitted on."""
        if not self._hash:
            h = hashlib.sha256()
            for a in (self.frequency, self.recency, self.T, self.monetary):
                h.update(np.ascontiguousarray(a, dtype="<f8").tobytes())
            self._hash.append(h.hexdigest())
        return self._hash[0]

    def to_arrow(self) -> pa.Table:
        """The summary as a pyarrow Table (one row per consumer)."""
        cols = {"consumer_id": self.consumer_id, "frequency": self.frequency,
                "recency": self.recency, "T": self.T, "monetary": self.monetary}
        if self.holdout_frequency is not None:
            cols["holdout_frequency"] = self.holdout_frequency
        return pa.table(cols)


def _columns(transactions: Any, id_col: str, date_col: str,
             amount_col: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if isinstance(transactions, pa.Table):
        get = transactions.column
    elif isinstance(transactions, Mapping):
        get = transactions.__getitem__
    elif isinstance(transactions, tuple | list) and len(transactions) == 3:
        ids, dates, amounts = transactions
        return _ids(ids), as_day_number(dates), _amounts(amounts)
    else:
        raise TypeError("transactions: a pyarrow Table, a mapping of columns or a tuple "
                        "(consumer_id, date, amount)")
    return _ids(get(id_col)), as_day_number(get(date_col)), _amounts(get(amount_col))


def _ids(ids: Any) -> np.ndarray:
    if isinstance(ids, pa.ChunkedArray | pa.Array):
        if ids.null_count:
            raise ValueError("consumer ids must not be null")
        ids = ids.to_numpy(zero_copy_only=False)
    arr = np.asarray(ids)
    return arr.astype(str) if arr.dtype == object else arr


def _amounts(amounts: Any) -> np.ndarray:
    if isinstance(amounts, pa.ChunkedArray | pa.Array):
        if amounts.null_count:
            raise ValueError("amounts must not be null")
        amounts = amounts.to_numpy(zero_copy_only=False)
    arr = np.asarray(amounts, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError("amounts must be finite")
    return arr


def rfm_summary(transactions: Any, *, calibration_end: dt.date | str,
                observation_end: dt.date | str | None = None, id_col: str = "consumer_id",
                date_col: str = "date", amount_col: str = "amount") -> RFMSummary:
    """Summarise a transaction log per consumer (definitions in the module docstring).

    ``transactions`` is a pyarrow Table, a mapping of column name → array, or a tuple
    ``(consumer_id, date, amount)`` of arrays; dates are local calendar dates (``date``,
    ISO string, ``datetime64``). Transactions after ``observation_end`` (or after
    ``calibration_end`` when it is not given) are ignored.
    """
    cal_end = dt.date.fromisoformat(calibration_end) if isinstance(calibration_end, str) \
        else calibration_end
    obs_end = dt.date.fromisoformat(observation_end) if isinstance(observation_end, str) \
        else observation_end
    if obs_end is not None and obs_end < cal_end:
        raise ValueError("observation_end must not be before calibration_end")
    ids, days, amounts = _columns(transactions, id_col, date_col, amount_col)
    if not (ids.shape == days.shape == amounts.shape) or ids.ndim != 1:
        raise ValueError("consumer_id, date and amount must be 1-d arrays of one length")
    cal_day = int(as_day_number(np.datetime64(cal_end, "D")))
    last_day = cal_day if obs_end is None else int(as_day_number(np.datetime64(obs_end, "D")))

    keep = days <= last_day
    uid, code = np.unique(ids[keep], return_inverse=True)
    days, amounts = days[keep], amounts[keep]

    # one transaction per (consumer, day): sort by consumer then day, sum runs
    order = np.lexsort((days, code))
    code, days, amounts = code[order], days[order], amounts[order]
    starts = np.flatnonzero(np.r_[True, (np.diff(code) != 0) | (np.diff(days) != 0)]) \
        if code.size else np.zeros(0, dtype=np.int64)
    amounts = np.add.reduceat(amounts, starts) if starts.size else amounts
    code, days = code[starts], days[starts]

    n_all = uid.shape[0]
    cal = days <= cal_day
    c_code, c_days, c_amt = code[cal], days[cal], amounts[cal]
    count = np.bincount(c_code, minlength=n_all)
    customer = count > 0  # first purchase on or before calibration_end
    # rows are sorted by (consumer, day): a consumer's first and last rows are its first and
    # last transactions
    edge = np.flatnonzero(np.diff(c_code) != 0)
    first_row, last_row = np.r_[0, edge + 1], np.r_[edge, c_code.size - 1]
    if not c_code.size:
        first_row = last_row = np.zeros(0, dtype=np.int64)
    first, last, first_amt = (np.zeros(n_all, dtype=np.int64), np.zeros(n_all, dtype=np.int64),
                              np.zeros(n_all))
    first[c_code[first_row]] = c_days[first_row]
    last[c_code[last_row]] = c_days[last_row]
    first_amt[c_code[first_row]] = c_amt[first_row]
    total = np.bincount(c_code, weights=c_amt, minlength=n_all)

    freq = (count - 1)[customer]
    repeat_total = (total - first_amt)[customer]
    monetary = np.divide(repeat_total, freq, out=np.zeros(freq.shape[0]), where=freq > 0)
    holdout = None
    if obs_end is not None:
        h = ~cal
        holdout = np.bincount(code[h], minlength=n_all)[customer].astype(np.int64)
    first_c = first[customer]
    return RFMSummary(
        consumer_id=uid[customer],
        frequency=freq.astype(np.int64),
        recency=(last[customer] - first_c).astype(np.float64),
        T=(cal_day - first_c).astype(np.float64),
        monetary=monetary,
        calibration_end=cal_end,
        calibration_start=_date(int(first_c.min())) if first_c.size else None,
        holdout_frequency=holdout,
        observation_end=obs_end,
    )
