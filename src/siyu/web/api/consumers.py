"""``/api/v1/consumers/{key}``: the 360° view of one consumer by any key or consumer id."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request

from siyu.web.api.schemas import ERRORS, Error
from siyu.web.auth import Principal
from siyu.web.consumers import consumer_view, tag_why
from siyu.web.deps import get_state, require

router = APIRouter(prefix="/consumers", tags=["consumers"],
                   responses={**ERRORS, 404: {"model": Error, "description": "Unknown key."}})


@router.get("/{key}", summary="Consumer 360° view")
def consumer(request: Request,
             key: Annotated[str, Path(min_length=1, max_length=200,
                                      description="Any key (`phone:13800138000`, "
                                      "`wecom:wm…`) or a consumer id.")],
             unmask: Annotated[bool, Query(description="Show personal keys unmasked (roles "
                                           "with `unmask`; audited).")] = False,
             p: Principal = Depends(require("consumers", "own_consumers"))) -> dict[str, Any]:
    """Keys, attributes, relationships, tier history, orders, consent (DOMAIN.md §12: phones
    masked unless asked and allowed). A guide sees only its own customers."""
    return consumer_view(get_state(request), p, key, unmask=unmask)


@router.get("/{key}/tags/{tag}/why", summary="Why a consumer carries a tag")
def why(request: Request,
        key: Annotated[str, Path(min_length=1, max_length=200)],
        tag: Annotated[str, Path(min_length=1, max_length=100)],
        p: Principal = Depends(require("consumers", "own_consumers"))) -> dict[str, Any]:
    """The tag's definition, version, computed time, the consumer's values and the facts
    that met the rule (`siyu tag why`)."""
    return tag_why(get_state(request), p, key, tag)
