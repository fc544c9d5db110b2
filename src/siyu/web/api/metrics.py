"""``/api/v1/metrics/<family>``: every metric family, exactly as ``siyu metrics <family>
--json`` prints it (DOMAIN.md §5–§11)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from siyu.web.api.schemas import ERRORS
from siyu.web.deps import get_state, require
from siyu.web.errors import bilingual
from siyu.web.service import FAMILIES

router = APIRouter(prefix="/metrics", tags=["metrics"], responses=ERRORS,
                   dependencies=[Depends(require("metrics"))])

_YEAR = r"(19|20)\d\d"
Period = Annotated[str, Query(
    description="Period in its grain's notation: 2025-03-01, 2025-W09, 2025-03, 2025-Q1, 2025.",
    pattern=rf"^{_YEAR}(-\d\d(-\d\d)?|-W\d\d|-Q[1-4])?$", examples=["2025-03"])]
Grain = Annotated[str | None, Query(
    description="day | week | month | quarter | year [default: from the period's notation]",
    pattern=r"^(day|week|month|quarter|year)$")]
Day = Annotated[str, Query(description="A brand-local day, YYYY-MM-DD.",
                           pattern=rf"^{_YEAR}-\d\d-\d\d$", examples=["2025-03-31"])]
OptDay = Annotated[str | None, Query(description="A brand-local day, YYYY-MM-DD.",
                                     pattern=rf"^{_YEAR}-\d\d-\d\d$")]
AnyPeriod = Annotated[str | None, Query(
    description="Any period notation (its first or last day).",
    pattern=rf"^{_YEAR}(-\d\d(-\d\d)?|-W\d\d|-Q[1-4])?$")]


def family(request: Request, name: str, **params: Any) -> dict[str, Any]:
    """The family ``name`` with ``params`` (cached until new data arrives)."""
    st = get_state(request)

    def compute():
        with st.warehouse() as ws:
            return bilingual(FAMILIES[name], ws, **params)

    return st.cached(name, params, compute)


@router.get("/fast", summary="FAST+ diagnosis (§5–§6)")
def fast(request: Request, period: Period, grain: Grain = None) -> dict[str, Any]:
    """Capital, Conversion with the tier transition matrix P−1 → P, Connection per field and
    touchpoint, CLV — `siyu metrics fast --json`."""
    return family(request, "fast", period=period, grain=grain)


@router.get("/gmv", summary="GMV decomposition and LMDI attribution (§7)")
def gmv(request: Request, period: Period, grain: Grain = None) -> dict[str, Any]:
    """`siyu metrics gmv --json`."""
    return family(request, "gmv", period=period, grain=grain)


@router.get("/health", summary="Health in three dimensions (§8)")
def health(request: Request, period: Period, grain: Grain = None) -> dict[str, Any]:
    """`siyu metrics health --json`."""
    return family(request, "health", period=period, grain=grain)


@router.get("/daily", summary="Daily monitoring (§8)")
def daily(request: Request,
          first: Annotated[str, Query(alias="from", description="First day, YYYY-MM-DD.",
                                      pattern=rf"^{_YEAR}-\d\d-\d\d$")],
          last: Annotated[str | None, Query(alias="to", description="Last day (inclusive).",
                                            pattern=rf"^{_YEAR}-\d\d-\d\d$")] = None
          ) -> dict[str, Any]:
    """`siyu metrics daily --from … --to … --json` (at most 366 days)."""
    return family(request, "daily", first=first, last=last)


@router.get("/cohorts", summary="Entry-cohort retention (§8)")
def cohorts(request: Request,
            grain: Annotated[str, Query(pattern=r"^(day|week|month)$")] = "month",
            first: Annotated[str | None, Query(alias="from", description="First cohort.",
                                               pattern=rf"^{_YEAR}(-\d\d(-\d\d)?|-W\d\d|-Q[1-4])?$")] = None,
            last: Annotated[str | None, Query(alias="to", description="Last cohort.",
                                              pattern=rf"^{_YEAR}(-\d\d(-\d\d)?|-W\d\d|-Q[1-4])?$")] = None,
            ) -> dict[str, Any]:
    """`siyu metrics cohorts --json`."""
    return family(request, "cohorts", grain=grain, first=first, last=last)


@router.get("/rfm", summary="RFM segments (§9)")
def rfm(request: Request, as_of: Day) -> dict[str, Any]:
    """`siyu metrics rfm --as-of … --json`."""
    return family(request, "rfm", as_of=as_of)


@router.get("/churn", summary="Churn-risk signals (§10)")
def churn(request: Request, as_of: Day) -> dict[str, Any]:
    """`siyu metrics churn --as-of … --json`."""
    return family(request, "churn", as_of=as_of)


@router.get("/community", summary="Community (社群) metrics (§11)")
def community(request: Request, period: Period, grain: Grain = None) -> dict[str, Any]:
    """`siyu metrics community --json`."""
    return family(request, "community", period=period, grain=grain)


@router.get("/layers", summary="The CLV layering map (C4)")
def layers(request: Request, as_of: Day, compare_to: OptDay = None) -> dict[str, Any]:
    """`siyu clv layers --as-of … [--compare-to …] --json`."""
    return family(request, "layers", as_of=as_of, compare_to=compare_to)
