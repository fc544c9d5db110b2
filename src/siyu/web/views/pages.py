"""What the console pages share: the Jinja2 environment, the signed-in user, the menu, the
language, number formats, and the error page."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from siyu.web.auth import Principal
from siyu.web.deps import get_state, optional_principal
from siyu.web.errors import ApiError

__all__ = ["templates", "render", "page_user", "error_page", "MENU"]

templates = Jinja2Templates(directory=str(Path(__file__).parent.parent / "templates"))

MENU: list[tuple[str, str, str, str]] = [  # path, zh, en, permission
    ("/dashboard", "FAST+ 健康看板", "FAST+ dashboard", "metrics"),
    ("/gmv", "GMV 拆解", "GMV decomposition", "metrics"),
    ("/trends", "每日趋势", "daily trends", "metrics"),
    ("/health", "健康度", "health", "metrics"),
    ("/rfm", "RFM 分群", "RFM segments", "metrics"),
    ("/cohorts", "留存队列", "retention cohorts", "metrics"),
    ("/community", "社群", "community", "metrics"),
    ("/audiences", "人群圈选", "audience builder", "audiences"),
    ("/consumers", "消费者 360°", "consumer 360°", "consumers|own_consumers"),
    ("/journeys", "自动化旅程", "journeys", "metrics|journeys"),
    ("/tasks", "导购工作台", "guide workbench", "tasks"),
    ("/admin/users", "用户与密钥", "users and keys", "users"),
]


def _fmt_int(v) -> str:
    return "—" if v is None else f"{int(v):,}"


def _fmt_pct(v, digits: int = 1) -> str:
    return "—" if v is None else f"{float(v) * 100:.{digits}f}%"


def _fmt_yuan(v) -> str:
    if v is None:
        return "—"
    v = float(v)
    return f"-¥{-v:,.2f}" if v < 0 else f"¥{v:,.2f}"


def _fmt_num(v, digits: int = 2) -> str:
    return "—" if v is None else f"{float(v):,.{digits}f}"


def _tojson(v) -> Markup:
    text = json.dumps(v, ensure_ascii=False, default=str)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


templates.env.filters.update(int=_fmt_int, pct=_fmt_pct, yuan=_fmt_yuan, num=_fmt_num,
                             data=_tojson)


def _labels() -> dict[str, Any]:
    from siyu.cli.metrics_fast import FIELD_LABELS
    from siyu.models.fast import TIER_KEYS
    from siyu.models.layers import BANDS
    from siyu.models.tiers import TIER_NAMES

    return {"tier_names": {str(k): v for k, v in TIER_NAMES.items()},
            "tier_keys": {str(k): v for k, v in TIER_KEYS.items()},
            "field_labels": FIELD_LABELS, "bands": BANDS}


templates.env.globals["labels"] = _labels()


def page_user(request: Request) -> Principal:
    """The signed-in user of a page (a redirect to the login page otherwise)."""
    st = get_state(request)
    from siyu.web.auth import SESSION_COOKIE

    p = optional_principal(request, request.headers.get("x-api-key"),
                           request.cookies.get(SESSION_COOKIE))
    if p is None or st is None:
        raise ApiError(401, "unauthenticated", "请先登录", "sign in first")
    return p


def page_require(request: Request, *permissions: str) -> Principal:
    p = page_user(request)
    if not any(p.may(x) for x in permissions):
        raise ApiError(403, "forbidden", "角色 {r} 无权查看此页面", "role {r} may not see this page",
                       r=p.role.name)
    return p


def render(request: Request, template: str, user: Principal | None, status: int = 200,
           **ctx: Any) -> HTMLResponse:
    lang = request.scope.get("state", {}).get("lang", "zh")

    def t(zh: str, en: str, **kw) -> str:
        s = en if lang == "en" else zh
        return s.format(**kw) if kw else s

    menu = [(path, t(zh, en)) for path, zh, en, perm in MENU
            if user is not None and any(user.may(x) for x in perm.split("|"))]
    st = get_state(request)
    return templates.TemplateResponse(request, template, {
        "t": t, "lang": lang, "user": user, "menu": menu, "path": request.url.path,
        "brand": st.settings.brand_name, "query": request.url.query, **ctx,
    }, status_code=status)


def error_page(request: Request, e: ApiError) -> HTMLResponse:
    try:
        user = page_user(request)
    except ApiError:
        user = None
    return render(request, "error.html", user, status=e.status, error=e)
