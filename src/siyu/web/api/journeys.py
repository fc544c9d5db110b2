"""``/api/v1/journeys`` (deploy, list, show, pause, resume, stats: :mod:`siyu.activation`) and
``/api/v1/outbox`` (rows without recipients or text, counts: :mod:`siyu.channels.outbox`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from siyu.web.api.schemas import ERRORS, Error
from siyu.web.auth import Principal
from siyu.web.deps import get_state, require
from siyu.web.errors import bilingual

router = APIRouter(tags=["journeys"],
                   responses={**ERRORS, 404: {"model": Error, "description": "No such journey."}})

Name = Annotated[str, Path(min_length=1, max_length=64)]


class Definition(BaseModel):
    definition: str = Field(min_length=1, max_length=100_000,
                            description="The journey definition (YAML, docs/journeys.md).")


@router.get("/journeys", summary="Journeys")
def list_journeys(request: Request, p: Principal = Depends(require("metrics", "journeys"))
                  ) -> list[dict[str, Any]]:
    """Every journey: version, status, trigger, enrolments active and entered."""
    from siyu.activation.store import list_journeys as run

    return bilingual(run, get_state(request).ws.ops)


@router.post("/journeys", summary="Deploy a journey")
def deploy(body: Definition, request: Request,
           p: Principal = Depends(require("journeys"))) -> dict[str, Any]:
    """Validate and store the definition; a new version when it changed."""
    from siyu.activation.store import deploy as run

    return bilingual(run, get_state(request).ws.ops, body.definition, actor=p.actor,
                     source="api")


@router.get("/journeys/{name}", summary="One journey")
def show(name: Name, request: Request,
         p: Principal = Depends(require("metrics", "journeys"))) -> dict[str, Any]:
    from siyu.activation.store import show as run

    return bilingual(run, get_state(request).ws.ops, name)


def _status(request: Request, name: str, status: str) -> dict[str, Any]:
    from siyu.activation.store import set_status

    return bilingual(set_status, get_state(request).ws.ops, name, status)


@router.post("/journeys/{name}/pause", summary="Pause a journey")
def pause(name: Name, request: Request,
          p: Principal = Depends(require("journeys"))) -> dict[str, Any]:
    """No new enrolments and no further steps until resumed."""
    return _status(request, name, "paused")


@router.post("/journeys/{name}/resume", summary="Resume a journey")
def resume(name: Name, request: Request,
           p: Principal = Depends(require("journeys"))) -> dict[str, Any]:
    return _status(request, name, "active")


@router.get("/journeys/{name}/stats", summary="Funnel, suppressions, goal")
def stats(name: Name, request: Request,
          p: Principal = Depends(require("metrics", "journeys"))) -> dict[str, Any]:
    """Enrolments by status, consumers per step, sends, suppressions by reason, the goal's
    result per arm (`siyu journey stats --json`)."""
    from siyu.activation.measurement import stats as run

    with get_state(request).warehouse() as ws:
        return bilingual(run, ws, name)


@router.get("/outbox", summary="Outbox rows (no recipients, no text)")
def outbox(request: Request,
           status: Annotated[str | None, Query(max_length=16)] = None,
           channel: Annotated[str | None, Query(max_length=32)] = None,
           limit: Annotated[int, Query(ge=1, le=500)] = 50,
           p: Principal = Depends(require("journeys"))) -> list[dict[str, Any]]:
    from siyu.channels.outbox import list_rows

    return bilingual(list_rows, get_state(request).ws, status, channel, limit)


@router.get("/outbox/counts", summary="Outbox counts by channel and status")
def outbox_counts(request: Request, p: Principal = Depends(require("journeys"))
                  ) -> dict[str, dict[str, int]]:
    from siyu.channels.outbox import counts

    return counts(get_state(request).ws)
