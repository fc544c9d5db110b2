"""Array helpers shared by the value models (private)."""

from __future__ import annotations

import numpy as np

__all__ = ["dot", "unique_rows"]

_PROBE = 4096


def dot(a: np.ndarray, b: np.ndarray) -> float:
    """Σ aᵢ bᵢ as a plain NumPy reduction. ``a @ b`` on 1-d arrays calls a multi-threaded
    BLAS whose threads spin on a busy shared machine: a fit was measured 30× slower with it
    on 2 loaded cores."""
    return float(np.multiply(a, b).sum())


def _sorted_change(cols: list[np.ndarray]) -> np.ndarray:
    n = cols[0].shape[0]
    change = np.zeros(n, dtype=bool)
    change[0] = True
    for c in cols:
        change[1:] |= c[1:] != c[:-1]
    return change


def unique_rows(*cols: np.ndarray, probe: bool = True) -> tuple[list[np.ndarray], np.ndarray,
                                                               np.ndarray]:
    """The distinct rows of equal-length columns: ``(unique columns, inverse, counts)`` with
    ``unique[j][inverse] == cols[j]``. Summaries built from calendar days repeat the same
    (frequency, recency, T) many times, so the models evaluate each distinct row once.

    With ``probe``, a large input whose random sample of 4,096 rows has no repeated row is
    returned as it is (inverse = identity, counts = 1): its rows are then mostly distinct
    (continuous times) and sorting would cost more than it saves. The unique columns are
    then the input order, not sorted.
    """
    n = cols[0].shape[0]
    if n == 0:
        return [c[:0] for c in cols], np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    if probe and n > 8 * _PROBE:
        idx = np.unique(np.random.default_rng(0).integers(0, n, _PROBE))
        sample = [c[idx] for c in cols]
        order = np.lexsort(sample[::-1])
        if _sorted_change([c[order] for c in sample]).all():
            return list(cols), np.arange(n), np.ones(n, dtype=np.int64)
    order = np.lexsort(cols[::-1])
    sorted_cols = [c[order] for c in cols]
    change = _sorted_change(sorted_cols)
    starts = np.flatnonzero(change)
    group = np.cumsum(change) - 1
    inverse = np.empty(n, dtype=np.int64)
    inverse[order] = group
    counts = np.diff(np.r_[starts, n])
    return [c[starts] for c in sorted_cols], inverse, counts
