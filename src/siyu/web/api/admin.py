"""``/api/v1/users`` and ``/api/v1/api-keys``: administration of console users and API keys
(admin role: permission ``users``), over :mod:`siyu.web.accounts` like ``siyu user`` and
``siyu apikey``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from siyu.web import accounts
from siyu.web.api.schemas import ERRORS, Error
from siyu.web.auth import Principal
from siyu.web.deps import get_state, require
from siyu.web.errors import ApiError

router = APIRouter(tags=["admin"], responses={
    **ERRORS,
    404: {"model": Error, "description": "No such user or API key."},
    409: {"model": Error, "description": "Refused: the name exists already (`exists`), the "
          "last enabled admin (`last_admin`), or the API key making the request (`own_key`)."},
})

T = TypeVar("T")
RoleName = Literal["admin", "operator", "analyst", "guide"]
NAME = r"^[\w.@-]{1,64}$"
GuideId = Field(default=None, min_length=1, max_length=64,
                description="For the guide role: the guide (guides.guide_id) it acts as.")


class UserOut(BaseModel):
    name: str
    role: str
    guide_id: str | None = None
    disabled: bool
    created_at: datetime
    last_login_at: datetime | None = Field(description="the last successful sign-in")
    sessions: int = Field(description="live console sessions")


class UserChange(UserOut):
    changed: list[str] = Field(description="the audit actions written: user_role, "
                                           "user_disable, user_enable, user_password")
    sessions_ended: int


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=NAME, description="login name: 1–64 letters, digits or _ . @ -")
    role: RoleName
    guide_id: str | None = GuideId
    password: str = Field(min_length=8, max_length=256)


class UserPatch(BaseModel):
    """What to change; absent fields stay. Disabling, or a new role, guide or password, ends
    the user's sessions at once."""

    model_config = ConfigDict(extra="forbid")
    role: RoleName | None = None
    guide_id: str | None = Field(default=None, max_length=64, description=(
        "the guide of a guide user; absent: kept while the role stays guide, cleared "
        "otherwise"))
    disabled: bool | None = None
    password: str | None = Field(default=None, min_length=8, max_length=256)


class ApiKeyOut(BaseModel):
    name: str = Field(description="the key's id")
    prefix: str = Field(description="the key's first characters, to tell keys apart")
    role: str
    guide_id: str | None = None
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    revoked: bool


class NewApiKey(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=NAME, description="a name for the key (who uses it): its id")
    role: RoleName
    guide_id: str | None = GuideId


class CreatedApiKey(ApiKeyOut):
    key: str = Field(description="the key itself, shown this once (only its hash is stored)")


def _call(fn: Callable[..., T], *args: Any, **kw: Any) -> T:
    try:
        return fn(*args, **kw)
    except accounts.AccountError as e:
        raise ApiError(e.status, e.code, e.zh, e.en) from None


admin = require("users")


@router.get("/users", response_model=list[UserOut], summary="Console users (never hashes)")
def list_users(request: Request, p: Principal = Depends(admin)) -> list[dict]:
    return accounts.list_users(get_state(request).ws.ops)


@router.post("/users", response_model=UserOut, status_code=201,
             summary="Add a console user (audited)")
def add_user(body: NewUser, request: Request, p: Principal = Depends(admin)) -> dict:
    return _call(accounts.create_user, get_state(request).ws.ops, p.actor, body.name,
                 body.role, body.password, body.guide_id)


@router.patch("/users/{name}", response_model=UserChange,
              summary="Change a user's role, guide, password or disabled flag (audited)")
def patch_user(body: UserPatch, request: Request, name: str = Path(max_length=64),
               p: Principal = Depends(admin)) -> dict:
    guide = body.guide_id if "guide_id" in body.model_fields_set else accounts.UNSET
    return _call(accounts.update_user, get_state(request).ws.ops, p.actor, name,
                 role=body.role, guide_id=guide, disabled=body.disabled,
                 password=body.password)


@router.get("/api-keys", response_model=list[ApiKeyOut], summary="API keys (never the keys)")
def list_keys(request: Request, p: Principal = Depends(admin)) -> list[dict]:
    return accounts.list_keys(get_state(request).ws.ops)


@router.post("/api-keys", response_model=CreatedApiKey, status_code=201,
             summary="Create an API key; the key is returned this once (audited)")
def create_key(body: NewApiKey, request: Request, p: Principal = Depends(admin)) -> dict:
    key, row = _call(accounts.create_key, get_state(request).ws.ops, p.actor, body.name,
                     body.role, body.guide_id)
    return {**row, "key": key}


@router.delete("/api-keys/{key_id}", response_model=ApiKeyOut,
               summary="Revoke an API key: refused (401) from the next request on (audited)")
def revoke_key(request: Request, key_id: str = Path(max_length=64, description=(
        "the key's name (or its unique prefix)")), p: Principal = Depends(admin)) -> dict:
    own = p.name if p.kind == "apikey" else None
    return _call(accounts.revoke_key, get_state(request).ws.ops, p.actor, key_id, protect=own)
