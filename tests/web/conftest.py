"""One small generated brand for the web tests (session-scoped, built once), the app over it,
users of every role, and an in-process client over httpx's ASGI transport."""

from __future__ import annotations

import os
from pathlib import Path

import anyio
import httpx
import pytest

BRAND = {"consumers": 600, "days": 60, "seed": 3}
PERIOD = "2025-12"
LAST_DAY = "2025-12-31"
PASSWORD = "correct-horse-9"
USERS = {"ada": "admin", "otto": "operator", "ana": "analyst"}


@pytest.fixture(scope="session")
def brand(tmp_path_factory) -> Path:
    """A generated, imported and resolved brand (read-only for the tests: copy to change)."""
    from siyu.demo import generate
    from siyu.identity import resolve
    from siyu.ingest import import_dir
    from siyu.workspace import Workspace

    with pytest.MonkeyPatch.context() as mp:
        for k in list(os.environ):
            if k.startswith("SIYU_"):
                mp.delenv(k)
        mp.setenv("SIYU_ID_SALT", "test-salt")
        root = tmp_path_factory.mktemp("web-brand")
        generate(root / "source", **BRAND)
        ws = Workspace.init(root / "ws", brand_name="小满生活 test")
        try:
            import_dir(ws, root / "source")
            resolve(ws)
        finally:
            ws.close()
    return root / "ws"


def _guides(ws) -> dict[str, list[str]]:
    """guide_id → member keys of its active guide friends (field guide, field_ref = guide)."""
    rows = ws.warehouse.raw.execute("""
        WITH last AS (
            SELECT consumer_key, field_ref, arg_max(action, occurred_at) AS action
            FROM relationships WHERE field = 'guide' GROUP BY ALL)
        SELECT l.field_ref, m.consumer_id, min(k.key) AS key
        FROM last l JOIN identity_map m ON m.key = l.consumer_key
        JOIN identity_map k ON k.consumer_id = m.consumer_id AND k.key_type = 'member'
        WHERE l.action = 'start' GROUP BY ALL ORDER BY 1, 3""").fetchall()
    by: dict[str, list[str]] = {}
    for ref, _, key in rows:
        by.setdefault(ref, []).append(key)
    return by


@pytest.fixture(scope="session")
def server(brand):
    """The app over the brand with one user per role (password :data:`PASSWORD`), the
    guide's own and another guide's customer, and an admin API key."""
    from siyu.web import create_app
    from siyu.web.auth import add_user, create_api_key
    from siyu.workspace import Workspace

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SIYU_ID_SALT", "test-salt")
        ws = Workspace.open(brand)
        ws.ensure()
    by = _guides(ws)
    gid = max(by, key=lambda g: len(by[g]))
    other = next(k for g, keys in by.items() if g != gid for k in keys if k not in by[gid])
    for name, role in USERS.items():
        add_user(ws.ops, name, role, PASSWORD, replace=True)
    add_user(ws.ops, "gus", "guide", PASSWORD, gid, replace=True)
    key = create_api_key(ws.ops, "etl", "operator")
    app = create_app(ws)
    yield {"app": app, "ws": ws, "guide_id": gid, "own": by[gid][0], "other": other,
           "api_key": key, "home": brand}
    ws.close()


class Client:
    """A synchronous face over ``httpx.AsyncClient(transport=ASGITransport(app))``."""

    def __init__(self, app, headers: dict | None = None):
        self.app = app
        self.headers = headers or {}
        self.cookies = httpx.Cookies()

    def request(self, method: str, url: str, **kw) -> httpx.Response:
        async def go():
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://siyu.test",
                                         headers=self.headers, cookies=self.cookies) as c:
                r = await c.request(method, url, **kw)
                self.cookies.update(r.cookies)
                return r

        return anyio.run(go)

    def get(self, url: str, **kw) -> httpx.Response:
        return self.request("GET", url, **kw)

    def post(self, url: str, **kw) -> httpx.Response:
        return self.request("POST", url, **kw)

    def login(self, name: str) -> Client:
        r = self.post("/api/v1/auth/login", json={"name": name, "password": PASSWORD})
        assert r.status_code == 200, r.text
        return self


@pytest.fixture
def client(server):
    def make(user: str | None = None, **kw) -> Client:
        c = Client(server["app"], **kw)
        return c.login(user) if user else c

    return make


def copy_app(brand: Path, dest: Path, role: str = "operator"):
    """The app over a private copy of the brand (for tests that write), with an API key of
    ``role``: ``(ws, app, key)``; close ``ws`` when done."""
    import shutil

    from siyu.web import create_app
    from siyu.web.auth import create_api_key
    from siyu.workspace import Workspace

    shutil.copytree(brand, dest, ignore=shutil.ignore_patterns("web.secret"))
    ws = Workspace.open(dest)
    ws.ensure()
    key = create_api_key(ws.ops, "tester", role)
    return ws, create_app(ws), key
