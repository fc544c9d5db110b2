"""The application factory: API, console pages, static assets, error handling, language."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from siyu.errors import SiyuError
from siyu.i18n import language
from siyu.web.auth import LANG_COOKIE
from siyu.web.errors import ApiError, from_siyu_error
from siyu.web.state import ServerState

__all__ = ["create_app", "STATIC"]

STATIC = Path(__file__).parent / "static"


class LanguageMiddleware:
    """The request's language: ``?lang=``, else the ``siyu_lang`` cookie, else
    ``Accept-Language`` for API clients, else zh-CN (``siyu.i18n`` reads it)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        req = Request(scope)
        lang = req.query_params.get("lang") or req.cookies.get(LANG_COOKIE)
        if not lang and scope["path"].startswith("/api/"):
            accept = req.headers.get("accept-language", "")
            lang = "en" if accept.lower().startswith("en") else None
        lang = lang if lang in ("zh", "en") else "zh"
        scope.setdefault("state", {})["lang"] = lang
        with language(lang):
            await self.app(scope, receive, send)


def _wants_json(request: Request) -> bool:
    p = request.url.path
    return p.startswith("/api/") or p.startswith("/callbacks/") or p == "/openapi.json"


def create_app(ws, *, session_hours: int | None = None) -> FastAPI:
    """The siyu server over the opened workspace ``ws`` (which it owns while it runs)."""
    from siyu import __version__
    from siyu.web.api import router as api_router
    from siyu.web.views import router as views_router

    state = ServerState(ws, session_hours=session_hours)
    app = FastAPI(
        title="siyu 私域 API",
        version=__version__,
        description=(
            "The HTTP API of a siyu workspace (docs/api.md). Machines authenticate with an "
            "`X-API-Key` header (`siyu apikey create`), people with the console's session "
            "cookie (`POST /api/v1/auth/login`). Errors are JSON `{\"code\", \"message\": "
            "{\"zh\", \"en\"}}`. Send `Accept-Language: en` or `?lang=en` for English "
            "messages in the rest of the body."),
        # no Swagger UI: FastAPI's loads its scripts from a CDN, and the console serves everything
        # itself (intranets); /openapi.json is the description
        docs_url=None, redoc_url=None, openapi_url="/openapi.json",
    )
    app.state.siyu = state

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, e: ApiError):
        if not _wants_json(request):
            from siyu.web.views.pages import error_page

            if e.status == 401:
                nxt = quote(request.url.path + (f"?{request.url.query}" if request.url.query
                                                else ""))
                return RedirectResponse(f"/login?next={nxt}", status_code=303)
            return error_page(request, e)
        return JSONResponse(e.body(), status_code=e.status)

    @app.exception_handler(SiyuError)
    async def _siyu_error(request: Request, e: SiyuError):
        return await _api_error(request, from_siyu_error(e))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, e: RequestValidationError):
        parts = []
        for x in e.errors()[:5]:
            loc = ".".join(str(v) for v in x.get("loc", ()) if v != "body")
            parts.append(f"{loc}: {x.get('msg', '')}")
        text = "; ".join(parts)
        err = ApiError(422, "invalid", "请求不符合接口说明：{t}",
                       "the request does not match the API description: {t}", t=text)
        if not _wants_json(request):
            err.status = 400
        return await _api_error(request, err)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, e: StarletteHTTPException):
        codes = {404: ("not_found", "没有这个地址", "no such address"),
                 405: ("method_not_allowed", "不支持此方法", "method not allowed")}
        code, zh, en = codes.get(e.status_code, ("http_error", str(e.detail), str(e.detail)))
        return await _api_error(request, ApiError(e.status_code, code, zh, en))

    app.include_router(api_router)
    app.include_router(views_router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _mount_callbacks(app)
    app.add_middleware(LanguageMiddleware)
    app.router.add_event_handler("shutdown", state.close)
    return app


def _mount_callbacks(app: FastAPI) -> None:
    """The WeCom callback router (issue 7) under /callbacks/wecom, the official account's
    server URL under /callbacks/wechat and webhook receipts under /callbacks/webhook, when they
    exist."""
    try:
        from siyu.channels.wecom.callback import router
    except ImportError:
        return
    app.include_router(router, prefix="/callbacks/wecom", tags=["callbacks"])
    from siyu.channels.wechat_callback import router as wechat_router

    app.include_router(wechat_router, prefix="/callbacks/wechat", tags=["callbacks"])
    from siyu.channels.webhook_callback import router as webhook_router

    app.include_router(webhook_router, prefix="/callbacks/webhook", tags=["callbacks"])
