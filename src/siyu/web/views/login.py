"""The login and logout pages and the language switch."""

from __future__ import annotations

from urllib.parse import urlparse

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from siyu.web import auth as A
from siyu.web.api.auth import set_session_cookie
from siyu.web.deps import get_state
from siyu.web.errors import ApiError
from siyu.web.views.pages import page_user, render

router = APIRouter()


def _safe_next(nxt: str | None) -> str:
    """Only a path of this site (no open redirect)."""
    if not nxt:
        return "/"
    u = urlparse(nxt)
    if u.scheme or u.netloc or not nxt.startswith("/") or nxt.startswith("//"):
        return "/"
    return nxt


@router.get("/")
def home(request: Request):
    p = page_user(request)
    return RedirectResponse("/dashboard" if p.may("metrics") else "/consumers", 303)


@router.get("/login")
def login_form(request: Request, next: str | None = None):
    return render(request, "login.html", None, next=_safe_next(next), failed=False)


@router.post("/login")
def login(request: Request, name: str = Form(""), password: str = Form(""),
          next: str = Form("/")):
    st = get_state(request)
    p = A.authenticate(st.ws.ops, name, password) if name and password else None
    if p is None:
        return render(request, "login.html", None, status=401, next=_safe_next(next),
                      failed=True, name=name)
    resp = RedirectResponse(_safe_next(next), status_code=303)
    set_session_cookie(resp, st, A.start_session(st.ws.ops, p.name, st.session_hours))
    return resp


@router.get("/logout")
def logout(request: Request):
    st = get_state(request)
    cookie = request.cookies.get(A.SESSION_COOKIE)
    sid = A.unsign(st.secret, cookie) if cookie else None
    if sid:
        A.end_session(st.ws.ops, sid)
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(A.SESSION_COOKIE, path="/")
    return resp


@router.get("/lang/{lang}")
def switch_language(request: Request, lang: str, next: str | None = None):
    if lang not in ("zh", "en"):
        raise ApiError(404, "not_found", "没有这种语言", "no such language")
    resp = RedirectResponse(_safe_next(next), status_code=303)
    resp.set_cookie(A.LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax", path="/")
    return resp
