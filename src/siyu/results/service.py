"""The metric objects every surface shows (``siyu metrics … --json``, the API, the console):
read from the materialised results when they are fresh, computed from the models otherwise.
Both routes build the object with the same function, so they cannot disagree.
"""

from __future__ import annotations

from typing import Literal

from siyu.models.periods import Period
from siyu.results.read import fresh_periods, stored_rows

__all__ = ["fast", "gmv", "Route"]

Route = Literal["stored", "computed"]
"""Where a metric object came from: the materialised results or the models."""


def fast(ws, period: Period, *, route: Route | None = None) -> tuple[dict, Route]:
    """``siyu metrics fast --json`` of ``period`` and where it came from; ``route="computed"``
    computes from the models even when stored results are fresh."""
    from siyu.models.fast import fast as compute
    from siyu.models.fast import fast_json

    if route != "computed":
        cells = stored_rows(ws, "transitions", [period])
        conn = stored_rows(ws, "connection", [period])
        clv = stored_rows(ws, "clv_by_tier", [period])
        if cells is not None and conn is not None and clv is not None:
            by_field = [{"field": r["key"], **r} for r in conn if r["by"] == "field"]
            by_ref = [{"field_ref": r["key"], **r} for r in conn if r["by"] == "field_ref"]
            return fast_json(str(period), cells, by_field, by_ref, clv,
                             ws.settings.clv_basis), "stored"
    from siyu.models.sources import Sources

    return compute(Sources.of(ws), period), "computed"


def gmv(ws, period: Period, *, route: Route | None = None) -> tuple[dict, Route]:
    """``siyu metrics gmv --json`` of ``period`` and where it came from (stored only when the
    period and the one before are both fresh); ``route="computed"`` as for :func:`fast`."""
    from siyu.models.gmv import gmv as compute
    from siyu.models.gmv import gmv_json

    prev = period.previous()
    if route != "computed" and {str(period), str(prev)} <= fresh_periods(ws, period.grain):
        fac = stored_rows(ws, "gmv", [period, prev])
        by = stored_rows(ws, "gmv_by_field", [period])
        if fac is not None and by is not None:
            return gmv_json(str(period), str(prev), fac, by), "stored"
    from siyu.models.sources import Sources

    return compute(Sources.of(ws), period), "computed"
