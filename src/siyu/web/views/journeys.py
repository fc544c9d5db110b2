"""Journey pages: the list with status, and one journey's funnel, suppressions and goal."""

from __future__ import annotations

from fastapi import APIRouter, Request

from siyu.web.deps import get_state
from siyu.web.errors import bilingual
from siyu.web.views.pages import page_require, render

router = APIRouter()


@router.get("/journeys")
def journeys(request: Request):
    from siyu.activation.store import list_journeys

    user = page_require(request, "metrics", "journeys")
    rows = bilingual(list_journeys, get_state(request).ws.ops)
    return render(request, "journeys.html", user, journeys=rows, json_url="/api/v1/journeys")


@router.get("/journeys/{name}")
def journey(request: Request, name: str):
    from siyu.activation.measurement import stats

    user = page_require(request, "metrics", "journeys")
    with get_state(request).warehouse() as ws:
        s = bilingual(stats, ws, name)
    return render(request, "journey.html", user, s=s,
                  json_url=f"/api/v1/journeys/{name}/stats")
