"""Request dependencies: the server state, who is asking, and what they may do."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, APIKeyHeader

from siyu.web.auth import SESSION_COOKIE, Principal, api_key_principal, session_user, unsign
from siyu.web.errors import ApiError
from siyu.web.state import ServerState

__all__ = ["get_state", "principal", "require", "optional_principal"]

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False,
                              description="An API key from `siyu apikey create` (machines).")
session_cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False,
                              description="The console's signed session cookie (people).")


def get_state(request: Request) -> ServerState:
    return request.app.state.siyu


def optional_principal(request: Request, key: str | None = Depends(api_key_header),
                       cookie: str | None = Depends(session_cookie)) -> Principal | None:
    st = get_state(request)
    if key:
        p = api_key_principal(st.ws.ops, key)
        if p is None:
            raise ApiError(401, "bad_api_key", "API 密钥无效或已吊销",
                           "the API key is unknown or revoked")
        return p
    if cookie:
        sid = unsign(st.secret, cookie)
        if sid:
            return session_user(st.ws.ops, sid)
    return None


def principal(p: Principal | None = Depends(optional_principal)) -> Principal:
    if p is None:
        raise ApiError(401, "unauthenticated", "请先登录（或提供 X-API-Key）",
                       "sign in first (or send X-API-Key)")
    return p


def require(*permissions: str) -> Callable[..., Principal]:
    """A dependency: the principal, when its role has one of ``permissions`` (else 403)."""

    def check(p: Principal = Depends(principal)) -> Principal:
        if not any(p.may(x) for x in permissions):
            raise ApiError(403, "forbidden", "角色 {r} 无权执行此操作", "role {r} may not do this",
                           r=p.role.name)
        return p

    return check
