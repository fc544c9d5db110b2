"""``/api/v1/auth``: sign in and out (the session cookie), and who am I."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from siyu.web import auth as A
from siyu.web.api.schemas import ERRORS, Login, Me
from siyu.web.deps import get_state, principal
from siyu.web.errors import ApiError

router = APIRouter(prefix="/auth", tags=["auth"], responses=ERRORS)


def set_session_cookie(response: Response, state, sid: str) -> None:
    response.set_cookie(A.SESSION_COOKIE, A.sign(state.secret, sid), httponly=True,
                        samesite="lax", max_age=state.session_hours * 3600, path="/")


@router.post("/login", response_model=Me, summary="Sign in (sets the session cookie)")
def login(body: Login, request: Request, response: Response) -> Me:
    st = get_state(request)
    p = A.authenticate(st.ws.ops, body.name, body.password)
    if p is None:
        raise ApiError(401, "bad_login", "用户名或密码错误", "wrong name or password")
    set_session_cookie(response, st, A.start_session(st.ws.ops, p.name, st.session_hours))
    return me_of(p)


@router.post("/logout", status_code=204, summary="Sign out (ends the session)")
def logout(request: Request, response: Response) -> Response:
    st = get_state(request)
    cookie = request.cookies.get(A.SESSION_COOKIE)
    sid = A.unsign(st.secret, cookie) if cookie else None
    if sid:
        A.end_session(st.ws.ops, sid)
    response = Response(status_code=204)
    response.delete_cookie(A.SESSION_COOKIE, path="/")
    return response


def me_of(p: A.Principal) -> Me:
    return Me(name=p.name, role=p.role.name, kind=p.kind, guide_id=p.guide_id,
              permissions=sorted(p.role.permissions))


@router.get("/me", response_model=Me, summary="Who is asking")
def me(p: A.Principal = Depends(principal)) -> Me:
    return me_of(p)
