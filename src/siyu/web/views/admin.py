"""The admin page (用户与密钥): console users and API keys, with disable / enable and revoke
buttons (admin role only), over :mod:`siyu.web.accounts` like ``/api/v1/users``."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from siyu.web import accounts
from siyu.web.deps import get_state
from siyu.web.views.pages import page_require, render

router = APIRouter()


def _page(request: Request, user, status: int = 200, error=None, done: str | None = None):
    st = get_state(request)

    def when(t) -> str:  # in the brand's time zone, like the other pages
        return "—" if t is None else t.astimezone(st.settings.zone).strftime("%Y-%m-%d %H:%M")

    return render(request, "admin_users.html", user, status=status,
                  users=accounts.list_users(st.ws.ops), keys=accounts.list_keys(st.ws.ops),
                  error=error, done=done, when=when, json_url="/api/v1/users")


@router.get("/admin/users")
def admin_users(request: Request, done: str | None = None):
    user = page_require(request, "users")
    return _page(request, user, done=done)


def _act(request: Request, fn, *args, done: str, **kw):
    user = page_require(request, "users")
    try:
        fn(get_state(request).ws.ops, user.actor, *args, **kw)
    except accounts.AccountError as e:
        return _page(request, user, status=e.status, error=e)
    return RedirectResponse(f"/admin/users?done={quote(done)}", status_code=303)


@router.post("/admin/users/{name}/disable")
def disable(request: Request, name: str):
    return _act(request, accounts.update_user, name, disabled=True, done=f"disable:{name}")


@router.post("/admin/users/{name}/enable")
def enable(request: Request, name: str):
    return _act(request, accounts.update_user, name, disabled=False, done=f"enable:{name}")


@router.post("/admin/api-keys/{key_id}/revoke")
def revoke(request: Request, key_id: str):
    p = page_require(request, "users")
    own = p.name if p.kind == "apikey" else None
    return _act(request, accounts.revoke_key, key_id, protect=own, done=f"revoke:{key_id}")
