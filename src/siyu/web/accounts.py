"""Administration of console users and API keys (the service ``siyu user`` / ``siyu apikey``
and ``/api/v1/users``, ``/api/v1/api-keys`` both call).

- Every change is one transaction with its audit entries (:func:`siyu.ops.audit.record`):
  ``user_add``, ``user_role``, ``user_disable``, ``user_enable``, ``user_password``,
  ``apikey_create``, ``apikey_revoke`` — never a password, hash or key.
- Disabling a user, or changing its password, role or guide, deletes its sessions in the same
  transaction: the next request with an old session cookie is refused. A revoked key is refused
  at once (:func:`siyu.web.auth.api_key_principal` checks ``revoked_at`` on every request).
- The last enabled admin cannot be disabled or demoted (:class:`AccountError` ``last_admin``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select, update

from siyu.errors import UsageError
from siyu.i18n import tr
from siyu.ops.audit import record
from siyu.ops.tables import api_keys, console_sessions, console_users
from siyu.web import auth as A
from siyu.web.roles import ROLES

__all__ = ["AccountError", "UNSET", "list_users", "get_user", "create_user", "update_user",
           "list_keys", "create_key", "revoke_key"]


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


class AccountError(UsageError):
    """A refused account change, with both languages, an HTTP status and a stable code."""

    def __init__(self, status: int, code: str, zh: str, en: str, **kw: Any):
        self.status, self.code = status, code
        self.zh = zh.format(**kw) if kw else zh
        self.en = en.format(**kw) if kw else en
        self.exit_code = 1 if status == 404 else 2
        super().__init__(tr(zh, en, **kw))


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(t: datetime | None) -> datetime | None:
    return None if t is None else (t if t.tzinfo else t.replace(tzinfo=UTC))


def _check_role(role: str, guide_id: str | None) -> None:
    if role not in ROLES:
        raise AccountError(400, "bad_request", "未知角色 {r}（可用：{ok}）",
                           "unknown role {r} (one of {ok})", r=role, ok=", ".join(ROLES))
    if role == "guide" and not guide_id:
        raise AccountError(400, "bad_request", "导购角色需要导购编号（guide_id，--guide-id）",
                           "the guide role needs a guide id (guide_id, --guide-id)")
    if role != "guide" and guide_id:
        raise AccountError(400, "bad_request", "只有导购角色可以指定导购编号",
                           "only the guide role takes a guide id")


def _check_password(password: str) -> None:
    try:
        password.encode()
    except UnicodeEncodeError:
        raise AccountError(400, "bad_request", "密码含有无效字符",
                           "the password holds invalid characters") from None
    if len(password) < A.MIN_PASSWORD:
        raise AccountError(400, "bad_request", "密码至少 {n} 个字符",
                           "the password needs at least {n} characters", n=A.MIN_PASSWORD)


def _check_name(name: str, what_zh: str, what_en: str) -> None:
    if not A.NAME_RE.match(name or ""):
        raise AccountError(400, "bad_request", "{w}名称 {n} 无效：1–64 个字母、数字或 _ . @ -",
                           "invalid {w2} name {n!r}: 1–64 letters, digits or _ . @ -",
                           w=what_zh, w2=what_en, n=name)


def _unknown_user(name: str) -> AccountError:
    return AccountError(404, "not_found", "没有用户 {n}", "no user {n!r}", n=name)


# -- users -----------------------------------------------------------------------------------

def _user_dict(row, live: dict[str, int]) -> dict[str, Any]:
    return {"name": row.name, "role": row.role, "guide_id": row.guide_id,
            "disabled": bool(row.disabled), "created_at": _aware(row.created_at),
            "last_login_at": _aware(row.last_login_at), "sessions": live.get(row.name, 0)}


def _live_sessions(c, name: str | None = None) -> dict[str, int]:
    q = (select(console_sessions.c.user_name, func.count())
         .where(console_sessions.c.expires_at > _now()).group_by(console_sessions.c.user_name))
    if name is not None:
        q = q.where(console_sessions.c.user_name == name)
    return {u: n for u, n in c.execute(q)}


_USER_COLS = (console_users.c.name, console_users.c.role, console_users.c.guide_id,
              console_users.c.disabled, console_users.c.created_at,
              console_users.c.last_login_at)


def list_users(ops) -> list[dict[str, Any]]:
    """Every console user by name: role, guide id, disabled, created, last sign-in and live
    sessions — never the password hash."""
    with ops.engine.connect() as c:
        live = _live_sessions(c)
        rows = c.execute(select(*_USER_COLS).order_by(console_users.c.name)).all()
    return [_user_dict(r, live) for r in rows]


def get_user(ops, name: str) -> dict[str, Any]:
    with ops.engine.connect() as c:
        row = c.execute(select(*_USER_COLS).where(console_users.c.name == name)).first()
        if row is None:
            raise _unknown_user(name)
        return _user_dict(row, _live_sessions(c, name))


def create_user(ops, actor: str, name: str, role: str, password: str,
                guide_id: str | None = None) -> dict[str, Any]:
    """Add console user ``name`` (audited ``user_add``)."""
    _check_name(name, "用户", "user")
    _check_role(role, guide_id)
    _check_password(password)
    with ops.engine.connect() as c:
        if c.execute(select(console_users.c.name).where(console_users.c.name == name)).first():
            raise AccountError(409, "exists", "用户 {n} 已存在", "user {n} exists already",
                               n=name)
    A.add_user(ops, name, role, password, guide_id)
    record(ops, actor, "user_add", name, {"role": role, "guide_id": guide_id})
    return get_user(ops, name)


def update_user(ops, actor: str, name: str, *, role: str | None = None,
                guide_id: str | None = UNSET, disabled: bool | None = None,
                password: str | None = None) -> dict[str, Any]:
    """Change what is given of user ``name``, in one transaction with its audit entries; ends
    its sessions when it is disabled or its role, guide or password changes. ``guide_id``
    left UNSET keeps the guide of a guide user and clears it when the role stops being guide.

    The user as :func:`list_users` shows it, plus ``changed`` (the audit actions written)
    and ``sessions_ended``.
    """
    if password is not None:
        _check_password(password)
        new_hash = A.hash_password(password)  # before the transaction: scrypt takes a while
    with ops.engine.begin() as c:
        row = c.execute(select(console_users).where(console_users.c.name == name)
                        .with_for_update()).first()
        if row is None:
            raise _unknown_user(name)
        new_role = role if role is not None else row.role
        if guide_id is UNSET:
            new_guide = row.guide_id if new_role == "guide" else None
        else:
            new_guide = guide_id or None
        _check_role(new_role, new_guide)
        new_disabled = bool(row.disabled) if disabled is None else disabled
        if row.role == "admin" and not row.disabled and (new_role != "admin" or new_disabled):
            # the other enabled admins, locked (PostgreSQL) so that two concurrent changes
            # cannot each leave the other as the last admin and then remove it
            others = c.execute(select(console_users.c.name).where(
                console_users.c.role == "admin", console_users.c.disabled.is_(False),
                console_users.c.name != name).with_for_update()).all()
            if not others:
                raise AccountError(
                    409, "last_admin",
                    "{n} 是最后一个启用的管理员，不能停用或降级（先添加或启用另一个管理员）",
                    "{n} is the last enabled admin and cannot be disabled or demoted (add or "
                    "enable another admin first)", n=name)
        values: dict[str, Any] = {}
        audit: list[tuple[str, dict[str, Any]]] = []
        if (new_role, new_guide) != (row.role, row.guide_id):
            values.update(role=new_role, guide_id=new_guide)
            audit.append(("user_role", {"from": row.role, "to": new_role,
                                        "guide_id": new_guide}))
        if new_disabled != bool(row.disabled):
            values["disabled"] = new_disabled
            audit.append(("user_disable" if new_disabled else "user_enable", {}))
        if password is not None:
            values["password_hash"] = new_hash
            audit.append(("user_password", {}))
        ended = 0
        if values:
            c.execute(update(console_users).where(console_users.c.name == name)
                      .values(**values))
        if any(a != "user_enable" for a, _ in audit):
            ended = c.execute(delete(console_sessions)
                              .where(console_sessions.c.user_name == name)).rowcount or 0
        for action, detail in audit:
            record(ops, actor, action, name, {**detail, "sessions_ended": ended}, conn=c)
    return {**get_user(ops, name), "changed": [a for a, _ in audit], "sessions_ended": ended}


# -- API keys --------------------------------------------------------------------------------

def _key_dict(row) -> dict[str, Any]:
    return {"name": row.name, "prefix": row.prefix, "role": row.role, "guide_id": row.guide_id,
            "created_at": _aware(row.created_at), "last_used_at": _aware(row.last_used_at),
            "revoked_at": _aware(row.revoked_at), "revoked": row.revoked_at is not None}


_KEY_COLS = (api_keys.c.name, api_keys.c.prefix, api_keys.c.role, api_keys.c.guide_id,
             api_keys.c.created_at, api_keys.c.last_used_at, api_keys.c.revoked_at)


def list_keys(ops) -> list[dict[str, Any]]:
    """Every API key by name: prefix, role, created, last used, revoked — never the key or its
    hash."""
    with ops.engine.connect() as c:
        rows = c.execute(select(*_KEY_COLS).order_by(api_keys.c.name)).all()
    return [_key_dict(r) for r in rows]


def create_key(ops, actor: str, name: str, role: str,
               guide_id: str | None = None) -> tuple[str, dict[str, Any]]:
    """A new API key (audited ``apikey_create``): ``(key, row)``; the key is shown once."""
    _check_name(name, "API 密钥", "API key")
    _check_role(role, guide_id)
    with ops.engine.connect() as c:
        if c.execute(select(api_keys.c.name).where(api_keys.c.name == name)).first():
            raise AccountError(409, "exists", "API 密钥 {n} 已存在（吊销的名称也不能重用）",
                               "API key {n} exists already (revoked names are not reused)",
                               n=name)
    key = A.create_api_key(ops, name, role, guide_id)
    record(ops, actor, "apikey_create", name, {"role": role, "guide_id": guide_id})
    return key, _find_key(ops, name)


def _find_key(ops, ident: str):
    with ops.engine.connect() as c:
        row = c.execute(select(*_KEY_COLS).where(api_keys.c.name == ident)).first()
        if row is None:  # the prefix shown by `siyu apikey list`, when it is unique
            rows = c.execute(select(*_KEY_COLS).where(api_keys.c.prefix == ident)).all()
            row = rows[0] if len(rows) == 1 else None
    if row is None:
        raise AccountError(404, "not_found", "没有 API 密钥 {n}（名称或前缀）",
                           "no API key {n!r} (name or prefix)", n=ident)
    return _key_dict(row)


def revoke_key(ops, actor: str, ident: str, *, protect: str | None = None) -> dict[str, Any]:
    """Revoke the key named ``ident`` (or with that unique prefix); audited ``apikey_revoke``.
    Revoking a revoked key changes nothing. ``protect``: the key making the request, which may
    not revoke itself (the caller would lock itself out mid-request)."""
    key = _find_key(ops, ident)
    if protect is not None and key["name"] == protect:
        raise AccountError(409, "own_key", "不能吊销正在使用的 API 密钥 {n}（用另一个密钥或命令行）",
                           "cannot revoke the API key {n} making this request (use another key "
                           "or the command line)", n=key["name"])
    if key["revoked"]:
        return {**key, "changed": False}
    with ops.engine.begin() as c:
        n = c.execute(update(api_keys).where(api_keys.c.name == key["name"],
                                             api_keys.c.revoked_at.is_(None))
                      .values(revoked_at=_now())).rowcount
        if n:
            record(ops, actor, "apikey_revoke", key["name"], {"role": key["role"]}, conn=c)
    return {**_find_key(ops, key["name"]), "changed": bool(n)}
