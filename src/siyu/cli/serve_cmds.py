"""``siyu serve`` (the HTTP API and the console), ``siyu user add``, ``siyu apikey create``."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from siyu.cli.app import HomeOpt, JsonOpt, app, emit_json, err, open_workspace, out
from siyu.errors import UsageError
from siyu.i18n import tr

RoleOpt = Annotated[str, typer.Option("--role", help="admin | operator | analyst | guide "
                                      "(docs/console.md).")]
GuideOpt = Annotated[str | None, typer.Option(
    "--guide-id", help="For --role guide: the guide (guides.guide_id) the account acts as.",
    show_default=False)]


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port.")] = 8000,
    home: HomeOpt = None,
) -> None:
    """Serve the HTTP API (/api/v1, OpenAPI at /openapi.json) and the web console on the
    workspace. The server owns the warehouse while it runs (DuckDB allows one writer)."""
    run_server(home, host, port)


def run_server(home, host: str, port: int, banner: str | None = None) -> None:
    """Open the workspace, build the app and serve until interrupted."""
    import uvicorn

    from siyu.web import create_app

    ws = open_workspace(home)
    try:
        application = create_app(ws)
        url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/"
        err.print(tr("私域运营台：{u}（API 说明 {u}openapi.json；Ctrl-C 停止）",
                     "siyu console: {u} (API description {u}openapi.json; Ctrl-C stops)", u=url),
                  markup=False)
        if banner:
            err.print(banner, markup=False)
        # no access log: console URLs may carry consumer keys (DOMAIN §12: no personal data in
        # logs)
        uvicorn.run(application, host=host, port=port, access_log=False, log_level="warning")
    finally:
        ws.close()


user_app = typer.Typer(help="Console users 运营台用户.", no_args_is_help=True)
app.add_typer(user_app, name="user")
apikey_app = typer.Typer(help="API keys for machines (X-API-Key).", no_args_is_help=True)
app.add_typer(apikey_app, name="apikey")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return typer.prompt(tr("密码", "password"), hide_input=True, confirmation_prompt=True)


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="Login name.")],
    role: RoleOpt,
    guide_id: GuideOpt = None,
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the password from the first line of stdin instead of "
        "prompting.")] = False,
    replace: Annotated[bool, typer.Option("--replace", help="Reset an existing user's role "
                                          "and password (ends its sessions).")] = False,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a console user (passwords are stored as salted scrypt hashes)."""
    from siyu.web.auth import add_user

    password = _read_password(password_stdin)
    if not password:
        raise UsageError(tr("密码为空", "empty password"))
    ws = open_workspace(home)
    try:
        add_user(ws.ops, name, role, password, guide_id, replace=replace)
    finally:
        ws.close()
    if as_json:
        emit_json({"name": name, "role": role, "guide_id": guide_id})
    else:
        out.print(tr("已添加用户 {n}（{r}）", "user {n} ({r}) saved", n=name, r=role),
                  markup=False)


@apikey_app.command("create")
def apikey_create(
    name: Annotated[str, typer.Argument(help="A name for the key (who uses it).")],
    role: RoleOpt,
    guide_id: GuideOpt = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an API key and print it once (only its hash is stored)."""
    from siyu.web.auth import create_api_key

    ws = open_workspace(home)
    try:
        key = create_api_key(ws.ops, name, role, guide_id)
    finally:
        ws.close()
    if as_json:
        emit_json({"name": name, "role": role, "guide_id": guide_id, "key": key})
    else:
        out.print(tr("API 密钥（只显示这一次）：", "API key (shown only this once):"))
        out.print(key, markup=False)
