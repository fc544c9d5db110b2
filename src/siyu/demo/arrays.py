"""Small NumPy helpers."""

from __future__ import annotations

import numpy as np


def gather(values: np.ndarray, idx: np.ndarray, fill) -> np.ndarray:
    """``values[idx]`` where ``idx >= 0``, ``fill`` elsewhere (also when ``values`` is empty)."""
    idx = np.asarray(idx)
    out = np.full(idx.shape, fill, dtype=np.result_type(values, np.min_scalar_type(fill)))
    ok = idx >= 0
    out[ok] = values[idx[ok]]
    return out
