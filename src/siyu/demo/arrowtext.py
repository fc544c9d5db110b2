"""Vectorised string building with Arrow compute: ids, tokens, picks from phrase lists.

No function here loops over rows in Python; each builds a whole ``pa.StringArray`` in C++.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

TOKEN_ALPHABET = np.frombuffer(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", dtype=np.uint8
)
DIGITS = np.frombuffer(b"0123456789", dtype=np.uint8)


def concat(*parts: pa.Array | str) -> pa.Array:
    """Element-wise concatenation of arrays and string scalars (null if any part is null)."""
    return pc.binary_join_element_wise(*parts, "")


def decimal(x: np.ndarray) -> pa.Array:
    """Integers as decimal strings."""
    return pc.cast(pa.array(np.asarray(x, dtype=np.int64)), pa.string())


def ids(prefix: str, chunk: int, n: int) -> pa.Array:
    """``n`` ids unique across chunks: ``prefix`` + (chunk + 1) · 10⁹ + i."""
    return concat(prefix, decimal((chunk + 1) * 1_000_000_000 + np.arange(n, dtype=np.int64)))


def tokens(rng: np.random.Generator, n: int, length: int,
           alphabet: np.ndarray = TOKEN_ALPHABET) -> pa.Array:
    """``n`` random ASCII tokens of ``length`` characters drawn from ``alphabet``."""
    if n == 0:
        return pa.array([], pa.string())
    codes = alphabet[rng.integers(0, len(alphabet), (n, length))]
    arr = pa.array(np.ascontiguousarray(codes).view(f"S{length}").ravel())
    return pc.cast(arr, pa.string())


def pick(values: Sequence[str] | pa.Array, idx: np.ndarray,
         valid: np.ndarray | None = None) -> pa.Array:
    """``values[idx]`` as strings; null where ``valid`` is False."""
    if not isinstance(values, pa.Array):
        values = pa.array(list(values), pa.string())
    mask = None if valid is None else ~np.asarray(valid, dtype=bool)
    return pc.take(values, pa.array(np.asarray(idx, dtype=np.int64), mask=mask))


def nulls(n: int, type_: pa.DataType = pa.string()) -> pa.Array:
    return pa.nulls(n, type_)


def with_nulls(arr: pa.Array, valid: np.ndarray) -> pa.Array:
    """``arr`` with nulls where ``valid`` is False."""
    return pc.if_else(pa.array(np.asarray(valid, dtype=bool)), arr, pa.nulls(len(arr), arr.type))
