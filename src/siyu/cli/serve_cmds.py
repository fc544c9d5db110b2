"""``siyu serve``: the HTTP API and the console (users and API keys: ``access_cmds``)."""

from __future__ import annotations

from typing import Annotated

import typer

from siyu.cli.app import HomeOpt, app, err, open_workspace
from siyu.i18n import tr


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
