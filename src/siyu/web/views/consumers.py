"""The consumer 360° page."""

from __future__ import annotations

from fastapi import APIRouter, Request

from siyu.web.consumers import consumer_view
from siyu.web.deps import get_state
from siyu.web.views.pages import page_require, render

router = APIRouter()


@router.get("/consumers")
def consumer_page(request: Request, key: str = "", unmask: bool = False):
    user = page_require(request, "consumers", "own_consumers")
    view = consumer_view(get_state(request), user, key.strip(), unmask=unmask) if key.strip() \
        else None
    return render(request, "consumer.html", user, key=key, view=view,
                  can_unmask=user.may("unmask"),
                  json_url=f"/api/v1/consumers/{key.strip()}" if key.strip() else None)
