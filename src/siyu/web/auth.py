"""People and machines: console users with salted scrypt password hashes, sessions behind a
signed cookie, API keys stored as SHA-256 hashes; and :class:`Principal`, who is asking.

The functions taking ``ops`` (the operational store) are what ``siyu user add`` and ``siyu
apikey create`` call as well as the login page.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, insert, select, update

from siyu.errors import UsageError
from siyu.i18n import tr
from siyu.ops.tables import api_keys, console_sessions, console_users
from siyu.web.roles import ROLES, Role

__all__ = ["Principal", "hash_password", "check_password", "add_user", "authenticate",
           "start_session", "session_user", "end_session", "create_api_key", "api_key_principal",
           "sign", "unsign", "SESSION_COOKIE", "LANG_COOKIE"]

SESSION_COOKIE = "siyu_session"
LANG_COOKIE = "siyu_lang"
SCRYPT = {"n": 2**14, "r": 8, "p": 1}
NAME_RE = re.compile(r"^[\w.@-]{1,64}$")
MIN_PASSWORD = 8


@dataclass(frozen=True)
class Principal:
    """Who makes a request: a console user or an API key, with its role."""

    name: str
    role: Role
    kind: str  # "user" | "apikey"
    guide_id: str | None = None

    @property
    def actor(self) -> str:
        """The audit-log actor: ``user:<name>`` or ``apikey:<name>``."""
        return f"{self.kind}:{self.name}"

    def may(self, permission: str) -> bool:
        return self.role.may(permission)


# -- passwords -------------------------------------------------------------------------------

def hash_password(password: str) -> str:
    """``scrypt$n$r$p$salt$hash`` (hex) of ``password`` with a fresh 16-byte salt."""
    salt = secrets.token_bytes(16)
    h = hashlib.scrypt(password.encode(), salt=salt, dklen=32, maxmem=64 * 2**20, **SCRYPT)
    return f"scrypt${SCRYPT['n']}${SCRYPT['r']}${SCRYPT['p']}${salt.hex()}${h.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        algo, n, r, p, salt, want = stored.split("$")
        if algo != "scrypt":
            return False
        got = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r),
                             p=int(p), dklen=len(want) // 2, maxmem=64 * 2**20)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got.hex(), want)


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _check_identity(name: str, role: str, guide_id: str | None) -> None:
    if not NAME_RE.match(name or ""):
        raise UsageError(tr("名称 {n} 无效：1–64 个字母、数字或 _ . @ -",
                            "invalid name {n!r}: 1–64 letters, digits or _ . @ -", n=name))
    if role not in ROLES:
        raise UsageError(tr("未知角色 {r}（可用：{ok}）", "unknown role {r} (one of {ok})",
                            r=role, ok=", ".join(ROLES)))
    if role == "guide" and not guide_id:
        raise UsageError(tr("导购角色需要 --guide-id（导购编号）",
                            "the guide role needs --guide-id (the guide's id)"))
    if role != "guide" and guide_id:
        raise UsageError(tr("只有导购角色可以指定 --guide-id", "only the guide role takes "
                            "--guide-id"))


# -- users and sessions ----------------------------------------------------------------------

def add_user(ops, name: str, role: str, password: str, guide_id: str | None = None,
             *, replace: bool = False) -> None:
    """Create console user ``name`` (or, with ``replace``, set its role and password)."""
    _check_identity(name, role, guide_id)
    if len(password) < MIN_PASSWORD:
        raise UsageError(tr("密码至少 {n} 个字符", "the password needs at least {n} characters",
                            n=MIN_PASSWORD))
    row = {"role": role, "guide_id": guide_id, "password_hash": hash_password(password),
           "disabled": False}
    with ops.engine.begin() as c:
        exists = c.execute(select(console_users.c.name).where(
            console_users.c.name == name)).first()
        if exists and not replace:
            raise UsageError(tr("用户 {n} 已存在（用 --replace 重设）",
                                "user {n} exists already (use --replace to reset it)", n=name))
        if exists:
            c.execute(update(console_users).where(console_users.c.name == name).values(**row))
            c.execute(delete(console_sessions).where(console_sessions.c.user_name == name))
        else:
            c.execute(insert(console_users).values(name=name, created_at=_now(), **row))


def _user_principal(row) -> Principal:
    return Principal(row.name, ROLES[row.role], "user", row.guide_id)


def authenticate(ops, name: str, password: str) -> Principal | None:
    """The user when ``password`` is right and the user is enabled, else None."""
    with ops.engine.connect() as c:
        row = c.execute(select(console_users).where(console_users.c.name == name)).first()
    if row is None or row.disabled:
        hash_password(password)  # the same work either way: no timing hint of unknown names
        return None
    return _user_principal(row) if check_password(password, row.password_hash) else None


def sign(secret: bytes, value: str) -> str:
    mac = hmac.new(secret, value.encode(), hashlib.sha256).hexdigest()[:32]
    return f"{value}.{mac}"


def unsign(secret: bytes, signed: str) -> str | None:
    value, _, mac = signed.rpartition(".")
    if not value or not hmac.compare_digest(sign(secret, value), signed):
        return None
    return value


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def start_session(ops, user: str, hours: int) -> str:
    """A new session id for ``user`` (store it signed in the cookie)."""
    sid = secrets.token_urlsafe(32)
    now = _now()
    with ops.engine.begin() as c:
        c.execute(delete(console_sessions).where(console_sessions.c.expires_at < now))
        c.execute(insert(console_sessions).values(id_hash=_sha(sid), user_name=user,
                                                  created_at=now,
                                                  expires_at=now + timedelta(hours=hours)))
        c.execute(update(console_users).where(console_users.c.name == user)
                  .values(last_login_at=now))
    return sid


def session_user(ops, sid: str) -> Principal | None:
    with ops.engine.connect() as c:
        row = c.execute(
            select(console_users, console_sessions.c.expires_at)
            .join(console_sessions, console_sessions.c.user_name == console_users.c.name)
            .where(console_sessions.c.id_hash == _sha(sid))).first()
    if row is None or row.disabled or _aware(row.expires_at) <= _now():
        return None
    return _user_principal(row)


def end_session(ops, sid: str) -> None:
    with ops.engine.begin() as c:
        c.execute(delete(console_sessions).where(console_sessions.c.id_hash == _sha(sid)))


# -- API keys --------------------------------------------------------------------------------

def create_api_key(ops, name: str, role: str, guide_id: str | None = None) -> str:
    """A new API key ``name``; the key itself is returned once and only its hash is kept."""
    _check_identity(name, role, guide_id)
    key = "sk_" + secrets.token_urlsafe(32)
    with ops.engine.begin() as c:
        if c.execute(select(api_keys.c.name).where(api_keys.c.name == name)).first():
            raise UsageError(tr("API 密钥 {n} 已存在", "API key {n} exists already", n=name))
        c.execute(insert(api_keys).values(name=name, role=role, guide_id=guide_id,
                                          key_hash=_sha(key), prefix=key[:10],
                                          created_at=_now()))
    return key


def api_key_principal(ops, key: str) -> Principal | None:
    with ops.engine.begin() as c:
        row = c.execute(select(api_keys).where(api_keys.c.key_hash == _sha(key))).first()
        if row is None or row.revoked_at is not None:
            return None
        c.execute(update(api_keys).where(api_keys.c.name == row.name)
                  .values(last_used_at=_now()))
    return Principal(row.name, ROLES[row.role], "apikey", row.guide_id)
