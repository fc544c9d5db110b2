"""``siyu user`` (console users) and ``siyu apikey`` (API keys): add, list, disable, enable,
passwd, role; create, list, revoke — thin commands over :mod:`siyu.web.accounts`.

They touch only the operational store, so they work while ``siyu serve`` owns the warehouse,
and take effect on the running server at once (sessions ended, keys refused).
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.table import Table as RichTable

from siyu.cli.app import HomeOpt, JsonOpt, app, emit_json, out
from siyu.errors import UsageError
from siyu.i18n import tr
from siyu.ops.audit import cli_actor

user_app = typer.Typer(help="Console users 运营台用户: add, list, disable, enable, passwd, role.",
                       no_args_is_help=True)
app.add_typer(user_app, name="user")
apikey_app = typer.Typer(help="API keys for machines (X-API-Key): create, list, revoke.",
                         no_args_is_help=True)
app.add_typer(apikey_app, name="apikey")

RoleOpt = Annotated[str, typer.Option("--role", help="admin | operator | analyst | guide "
                                      "(docs/console.md).")]
GuideOpt = Annotated[str | None, typer.Option(
    "--guide-id", "--guide", help="For the guide role: the guide (guides.guide_id) the account "
    "acts as.", show_default=False)]
NameArg = Annotated[str, typer.Argument(help="The user's login name.")]
StdinOpt = Annotated[bool, typer.Option(
    "--password-stdin", help="Read the password from the first line of stdin instead of "
    "prompting (twice).")]


def _ops_workspace(home):
    """The workspace with its operational store migrated (the warehouse is not opened)."""
    from siyu.workspace import Workspace

    ws = Workspace.open(home)
    ws.ops.upgrade()
    return ws


def _run(home, fn, *args, **kw):
    ws = _ops_workspace(home)
    try:
        return fn(ws.ops, *args, **kw)
    finally:
        ws.close()


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt(tr("密码", "password"), hide_input=True,
                                confirmation_prompt=True)
    if not password:
        raise UsageError(tr("密码为空", "empty password"))
    return password


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat(timespec="seconds")


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: _iso(v) if isinstance(v, datetime) else v for k, v in row.items()}


def _listing(home, fn):
    """``fn(ops)`` and the brand's time zone (times are shown in it, like the console)."""
    ws = _ops_workspace(home)
    try:
        return fn(ws.ops), ws.settings.zone
    finally:
        ws.close()


def _when(t: datetime | None, zone) -> str:
    return "—" if t is None else t.astimezone(zone).strftime("%Y-%m-%d %H:%M")


# -- users -----------------------------------------------------------------------------------

@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="Login name.")],
    role: RoleOpt,
    guide_id: GuideOpt = None,
    password_stdin: StdinOpt = False,
    replace: Annotated[bool, typer.Option("--replace", help="Reset an existing user's role "
                                          "and password and enable it (ends its sessions).")
                       ] = False,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a console user (passwords are stored as salted scrypt hashes; audited)."""
    from siyu.web.accounts import create_user, get_user, update_user

    password = _read_password(password_stdin)
    ws = _ops_workspace(home)
    try:
        if replace and _exists(get_user, ws.ops, name):
            update_user(ws.ops, cli_actor(), name, role=role, guide_id=guide_id,
                        disabled=False, password=password)
        else:
            create_user(ws.ops, cli_actor(), name, role, password, guide_id)
    finally:
        ws.close()
    if as_json:
        emit_json({"name": name, "role": role, "guide_id": guide_id})
    else:
        out.print(tr("已添加用户 {n}（{r}）", "user {n} ({r}) saved", n=name, r=role),
                  markup=False)


def _exists(get_user, ops, name: str) -> bool:
    from siyu.web.accounts import AccountError

    try:
        get_user(ops, name)
    except AccountError:
        return False
    return True


@user_app.command("list")
def user_list(home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """Console users: role, guide id, disabled, created, last sign-in, live sessions (never
    the password hash)."""
    from siyu.web.accounts import list_users

    rows, zone = _listing(home, list_users)
    if as_json:
        emit_json({"users": [_jsonable(r) for r in rows]})
        return
    t = RichTable(*[tr(zh, en) for zh, en in (
        ("用户", "user"), ("角色", "role"), ("导购编号", "guide id"), ("状态", "status"),
        ("创建", "created"), ("最近登录", "last sign-in"), ("会话", "sessions"))])
    for r in rows:
        t.add_row(r["name"], r["role"], r["guide_id"] or "—",
                  tr("已停用", "disabled") if r["disabled"] else tr("启用", "enabled"),
                  _when(r["created_at"], zone), _when(r["last_login_at"], zone),
                  str(r["sessions"]))
    out.print(t)
    if not rows:
        out.print(tr("还没有用户（siyu user add NAME --role admin）",
                     "no users yet (siyu user add NAME --role admin)"), markup=False)


def _report(got: dict[str, Any], as_json: bool, done_zh: str, done_en: str,
            same_zh: str, same_en: str) -> None:
    if as_json:
        emit_json(_jsonable(got))
    elif got["changed"]:
        out.print(tr(done_zh, done_en, n=got["name"], r=got["role"], s=got["sessions_ended"]),
                  markup=False)
    else:
        out.print(tr(same_zh, same_en, n=got["name"], r=got["role"]), markup=False)


@user_app.command("disable")
def user_disable(name: NameArg, home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """Disable a user: it cannot sign in and its sessions end at once (not the last enabled
    admin)."""
    from siyu.web.accounts import update_user

    got = _run(home, update_user, cli_actor(), name, disabled=True)
    _report(got, as_json, "已停用用户 {n}（结束 {s} 个会话）", "user {n} disabled ({s} sessions "
            "ended)", "用户 {n} 已是停用状态", "user {n} was disabled already")


@user_app.command("enable")
def user_enable(name: NameArg, home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """Enable a disabled user again."""
    from siyu.web.accounts import update_user

    got = _run(home, update_user, cli_actor(), name, disabled=False)
    _report(got, as_json, "已启用用户 {n}", "user {n} enabled", "用户 {n} 已是启用状态",
            "user {n} was enabled already")


@user_app.command("passwd")
def user_passwd(name: NameArg, password_stdin: StdinOpt = False, home: HomeOpt = None,
                as_json: JsonOpt = False) -> None:
    """Set a user's password (prompted twice); its sessions end at once."""
    from siyu.web.accounts import get_user, update_user

    _run(home, get_user, name)  # an unknown name fails before the prompt
    password = _read_password(password_stdin)
    got = _run(home, update_user, cli_actor(), name, password=password)
    _report(got, as_json, "已重设 {n} 的密码（结束 {s} 个会话）", "password of {n} set ({s} "
            "sessions ended)", "", "")


@user_app.command("role")
def user_role(
    name: NameArg,
    role: Annotated[str, typer.Argument(help="admin | operator | analyst | guide.")],
    guide_id: GuideOpt = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Change a user's role (and guide id); its sessions end at once (the last enabled admin
    cannot be demoted)."""
    from siyu.web.accounts import UNSET, update_user

    got = _run(home, update_user, cli_actor(), name, role=role,
               guide_id=UNSET if guide_id is None else guide_id)
    _report(got, as_json, "{n} 的角色现为 {r}（结束 {s} 个会话）", "{n} is now {r} ({s} sessions "
            "ended)", "{n} 的角色已是 {r}", "{n} was {r} already")


# -- API keys --------------------------------------------------------------------------------

@apikey_app.command("create")
def apikey_create(
    name: Annotated[str, typer.Argument(help="A name for the key (who uses it).")],
    role: RoleOpt,
    guide_id: GuideOpt = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an API key and print it once (only its hash is stored; audited)."""
    from siyu.web.accounts import create_key

    key, _ = _run(home, create_key, cli_actor(), name, role, guide_id)
    if as_json:
        emit_json({"name": name, "role": role, "guide_id": guide_id, "key": key})
    else:
        out.print(tr("API 密钥（只显示这一次）：", "API key (shown only this once):"))
        out.print(key, markup=False)


@apikey_app.command("list")
def apikey_list(home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """API keys: name, prefix, role, created, last used, revoked (never the key)."""
    from siyu.web.accounts import list_keys

    rows, zone = _listing(home, list_keys)
    if as_json:
        emit_json({"api_keys": [_jsonable(r) for r in rows]})
        return
    t = RichTable(*[tr(zh, en) for zh, en in (
        ("名称", "name"), ("前缀", "prefix"), ("角色", "role"), ("创建", "created"),
        ("最近使用", "last used"), ("吊销", "revoked"))])
    for r in rows:
        t.add_row(r["name"], r["prefix"] + "…", r["role"] + (f" ({r['guide_id']})"
                                                            if r["guide_id"] else ""),
                  _when(r["created_at"], zone), _when(r["last_used_at"], zone),
                  _when(r["revoked_at"], zone))
    out.print(t)
    if not rows:
        out.print(tr("还没有 API 密钥（siyu apikey create NAME --role R）",
                     "no API keys yet (siyu apikey create NAME --role R)"), markup=False)


@apikey_app.command("revoke")
def apikey_revoke(
    key_id: Annotated[str, typer.Argument(metavar="ID",
                                          help="The key's name (or its unique prefix).")],
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Revoke an API key: it is refused (401) from the next request on."""
    from siyu.web.accounts import revoke_key

    got = _run(home, revoke_key, cli_actor(), key_id)
    if as_json:
        emit_json(_jsonable(got))
    elif got["changed"]:
        out.print(tr("已吊销 API 密钥 {n}", "API key {n} revoked", n=got["name"]), markup=False)
    else:
        out.print(tr("API 密钥 {n} 已是吊销状态", "API key {n} was revoked already",
                     n=got["name"]), markup=False)
