"""Time in the generator: the window, daily rhythm, promotion days, and formatting.

Instants are int64 seconds since 1970-01-01 00:00 of *brand-local* wall time (Asia/Shanghai),
so formatting one needs no time-zone arithmetic and the files carry naive local timestamps.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

DAY = 86_400
HOUR = 3_600
NEVER = np.int64(2**62)
"""Sentinel instant: "has not happened"."""

_EPOCH = date(1970, 1, 1)

HOUR_WEIGHTS = np.array([
    0.3, 0.15, 0.1, 0.05, 0.05, 0.1, 0.3, 0.8, 1.2, 1.3, 1.4, 1.5,
    1.8, 1.4, 1.2, 1.2, 1.3, 1.4, 1.6, 2.0, 2.4, 2.6, 2.0, 1.0,
])
HOUR_PROBS = HOUR_WEIGHTS / HOUR_WEIGHTS.sum()
"""When consumers are active: lunch and evening peaks."""

PROMO_DAYS = ((3, 8), (5, 20), (6, 18), (11, 11), (12, 12))
"""Shopping festivals (妇女节, 520, 618, 双11, 双12) that pull orders toward them."""


def day_number(d: date) -> int:
    return (d - _EPOCH).days


@dataclass(frozen=True)
class Window:
    """The generated period: ``days`` whole local days ending with ``end`` (inclusive)."""

    end_date: date
    days: int

    @property
    def start(self) -> int:
        return (day_number(self.end_date) + 1 - self.days) * DAY

    @property
    def end(self) -> int:
        """Exclusive end instant (midnight after ``end_date``)."""
        return (day_number(self.end_date) + 1) * DAY

    @property
    def start_date(self) -> date:
        return self.end_date - timedelta(days=self.days - 1)

    def promo_starts(self) -> np.ndarray:
        """Start instants of the promotion days inside the window, ascending."""
        out = []
        for year in range(self.start_date.year, self.end_date.year + 1):
            for m, d in PROMO_DAYS:
                day = date(year, m, d)
                if self.start_date <= day <= self.end_date:
                    out.append(day_number(day) * DAY)
        return np.array(sorted(out), dtype=np.int64)


def in_day_rhythm(t: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                  rng: np.random.Generator) -> np.ndarray:
    """Move each instant to a time of day drawn from ``HOUR_PROBS`` on the same day, unless
    that leaves ``[lo, hi)``."""
    hours = rng.choice(24, size=len(t), p=HOUR_PROBS)
    moved = t - t % DAY + hours * HOUR + rng.integers(0, HOUR, len(t))
    return np.where((moved >= lo) & (moved < hi), moved, t)


def uniform_between(lo: np.ndarray, hi: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One instant uniformly in ``[lo, hi)`` per pair, with the daily rhythm."""
    span = np.maximum(hi - lo, 1)
    t = lo + (rng.random(len(lo)) * span).astype(np.int64)
    return in_day_rhythm(t, lo, lo + span, rng)


def format_times(t: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """``YYYY-MM-DD HH:MM:SS`` strings; null where ``valid`` is False."""
    mask = None if valid is None else ~np.asarray(valid, dtype=bool)
    arr = pa.array(np.asarray(t, dtype=np.int64), mask=mask).cast(pa.timestamp("s"))
    return pc.cast(arr, pa.string())


def format_dates(t: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """``YYYY-MM-DD`` strings from instants; null where ``valid`` is False."""
    return pc.utf8_slice_codeunits(format_times(t, valid), 0, 10)
