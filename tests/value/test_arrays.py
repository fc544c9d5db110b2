"""unique_rows: distinct rows and the way back, with and without the probe shortcut."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from siyu.value._arrays import unique_rows


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.sampled_from([0.0, 0.5, 1.0, 7.0])),
                max_size=60))
def test_unique_rows_round_trip(rows):
    x = np.array([r[0] for r in rows], dtype=float)
    T = np.array([r[1] for r in rows])
    (ux, uT), inv, counts = unique_rows(x, T)
    assert np.array_equal(ux[inv], x) and np.array_equal(uT[inv], T)
    assert counts.sum() == len(rows) and len(set(zip(ux, uT, strict=True))) == ux.size


def test_large_inputs_dedup_or_pass_through():
    rng = np.random.default_rng(1)
    n = 100_000
    x = rng.integers(0, 5, n).astype(float)
    days = rng.integers(0, 30, n).astype(float)
    (ux, uT), inv, counts = unique_rows(x, days)
    assert ux.size == 150 and np.array_equal(uT[inv], days) and counts.sum() == n
    times = rng.uniform(0, 30, n)  # continuous: every row distinct, no sort
    (ux, uT), inv, counts = unique_rows(x, times)
    assert np.array_equal(inv, np.arange(n)) and np.array_equal(uT, times)
    (ux, uT), inv, counts = unique_rows(x, times, probe=False)
    assert ux.size == n and np.array_equal(uT[inv], times)
