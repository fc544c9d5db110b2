"""The audience builder: the expression, a live count as it changes, export."""

from __future__ import annotations

from fastapi import APIRouter, Request

from siyu.web.views.pages import page_require, render

router = APIRouter()

EXAMPLES = [
    "tier >= 3",
    "tier >= 3 and orders(last 90d) >= 2",
    'in_field("group_chat") and not rfm = "dormant"',
]


@router.get("/audiences")
def builder(request: Request, expression: str = ""):
    from siyu.audience.saved import list_saved
    from siyu.web.deps import get_state
    from siyu.web.service import default_day

    user = page_require(request, "audiences")
    st = get_state(request)
    with st.warehouse() as ws:
        saved = list_saved(ws)
        day = default_day(ws)
    return render(request, "audiences.html", user, expression=expression, examples=EXAMPLES,
                  can_export=user.may("export"), can_save=user.may("audiences_write"),
                  saved=saved, as_of=day, json_url="/api/v1/audiences/saved")
