"""Audience services that the CLI, the API and the console call: counts and members."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from typing import Any

from siyu.audience.ast import Node
from siyu.audience.compile import compile_audience
from siyu.audience.parse import parse
from siyu.models.sources import Sources

__all__ = ["count", "members", "tree_of"]


def tree_of(expr: str | Node) -> Node:
    """``expr`` parsed when it is text, as is when it is already a tree."""
    return parse(expr) if isinstance(expr, str) else expr


def _day(ws, as_of: date | None) -> date:
    return as_of if as_of is not None else datetime.now(UTC).astimezone(ws.settings.zone).date()


def count(ws, text: str | Node, as_of: date | None = None) -> dict[str, Any]:
    """``{"count", "ms"}``: how many consumers the audience holds at the end of local day
    ``as_of`` (default: today) and how long parsing, compiling and counting took."""
    t0 = time.perf_counter()
    expr = compile_audience(Sources.of(ws), tree_of(text), _day(ws, as_of))
    n = int(expr.count().execute())
    return {"count": n, "ms": round((time.perf_counter() - t0) * 1000, 1)}


def members(ws, text: str | Node, as_of: date | None = None) -> list[str]:
    """The consumer ids of the audience at the end of ``as_of`` (default: today), sorted."""
    expr = compile_audience(Sources.of(ws), tree_of(text), _day(ws, as_of))
    return sorted(expr.to_pyarrow()["consumer_id"].to_pylist())
