"""Comparing one Ibis expression's results from two engines, value by value.

Results are normalised before comparing, for differences of representation only: nulls
(``None``/``NaN``/``NaT``/``pd.NA``) become ``None``, numpy scalars Python ones, dates
``datetime.date``, and aware timestamps UTC datetimes (instants come back aware from both
engines; naive ones, wall-clock times in the brand's zone on both, stay naive). Floats compare
to a relative 1e-9 (the engines may add in a different order); everything else must be equal,
type included. Rows compare as sorted lists (no engine promises an order).
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import ibis
import numpy as np
import pandas as pd

__all__ = ["normal_schema", "normal_rows", "assert_same_rows"]


def normal_schema(t: ibis.Table) -> dict[str, str]:
    """Column -> type, ignoring nullability (DuckDB knows NOT NULL columns, Parquet-read
    Spark views do not)."""
    return {name: repr(dtype.copy(nullable=True)) for name, dtype in t.schema().items()}


def _value(v, dtype=None):
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if dtype is not None and dtype.is_date() and isinstance(v, dt.date):
        return v.date() if isinstance(v, dt.datetime) else v
    if isinstance(v, float | np.floating):
        return None if math.isnan(v) else float(v)
    if isinstance(v, pd.Timestamp | dt.datetime):
        ts = pd.Timestamp(v)
        return (ts if ts.tzinfo is None else ts.tz_convert("UTC")).to_pydatetime()
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.ndarray | list | tuple):
        return tuple(_value(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted((k, _value(x)) for k, x in v.items()))
    return v


def _sort_key(row: tuple) -> tuple:
    def k(v):
        if v is None:
            return (0, "")
        if isinstance(v, float):
            return (1, round(v, 6))
        if isinstance(v, bool | int | Decimal):
            return (1, v)
        return (2, str(v))
    return tuple(k(v) for v in row)


def normal_rows(df: pd.DataFrame, schema: ibis.Schema) -> list[tuple]:
    """``df`` (an executed table of ``schema``) as sorted tuples of plain Python values."""
    types = [schema[c] for c in df.columns]
    rows = [tuple(_value(v, t) for v, t in zip(rec, types, strict=True))
            for rec in df.itertuples(index=False, name=None)]
    return sorted(rows, key=_sort_key)


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return type(a) is type(b) and a == b


def assert_same_rows(got: dict[str, list[tuple]], columns: list[str]) -> None:
    """Every engine's rows (normalised, sorted) equal the first engine's."""
    (ref_name, ref), *others = got.items()
    for name, rows in others:
        same = len(rows) == len(ref) and all(
            len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
            for a, b in zip(ref, rows, strict=True))
        if not same:
            only_ref = [r for r in ref if r not in rows]
            only_other = [r for r in rows if r not in ref]
            raise AssertionError(
                f"{ref_name} and {name} differ ({len(ref)} vs {len(rows)} rows; columns "
                f"{columns})\n  only in {ref_name}: {only_ref[:10]}\n"
                f"  only in {name}: {only_other[:10]}")
