"""Audience services that the CLI, the API and the console call: counts and members."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from typing import Any

from siyu.audience.ast import Node
from siyu.audience.compile import compile_audience
from siyu.audience.parse import parse
from siyu.models.sources import Sources

__all__ = ["count", "members", "tree_of", "local_day"]


def tree_of(expr: str | Node) -> Node:
    """``expr`` parsed when it is text, as is when it is already a tree."""
    return parse(expr) if isinstance(expr, str) else expr


def local_day(ws, as_of: date | None) -> date:
    return as_of if as_of is not None else datetime.now(UTC).astimezone(ws.settings.zone).date()


def count(ws, text: str | Node, as_of: date | None = None, *, use_index: bool = True,
          explain: bool = False) -> dict[str, Any]:
    """``{"count", "ms"}``: how many consumers the audience holds at the end of local day
    ``as_of`` (default: today) and how long parsing, compiling and counting took.

    Counted on the bitmap index (:mod:`siyu.audience.index`) when it can answer at least one
    term (other terms are computed in the warehouse and combined), else in the warehouse.
    With ``explain``, also ``"index"`` (whether the index was used), ``"why"`` (when not) and
    ``"terms"``: each term with ``"from"`` ``index`` or ``warehouse``."""
    from siyu.audience.index import Explained, evaluate

    t0 = time.perf_counter()
    tree, day = tree_of(text), local_day(ws, as_of)
    bm, ex = evaluate(ws, tree, day) if use_index else (None, Explained(False, "use_index=False"))
    if bm is not None:
        n = len(bm)
    else:
        n = int(compile_audience(Sources.of(ws), tree, day).count().execute())
    out: dict[str, Any] = {"count": n, "ms": round((time.perf_counter() - t0) * 1000, 1)}
    if explain:
        out |= {"index": ex.used_index, "why": ex.reason, "terms": ex.terms}
    return out


def members(ws, text: str | Node, as_of: date | None = None) -> list[str]:
    """The consumer ids of the audience at the end of ``as_of`` (default: today), sorted."""
    expr = compile_audience(Sources.of(ws), tree_of(text), local_day(ws, as_of))
    return sorted(expr.to_pyarrow()["consumer_id"].to_pylist())
