"""``siyu user add``, ``siyu apikey create`` and ``siyu serve`` as a real process."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time

import httpx
import pytest
from sqlalchemy import select

from siyu.ops.tables import api_keys, console_users
from siyu.web.auth import check_password, hash_password


def test_passwords_are_salted_scrypt_hashes():
    a, b = hash_password("secret-pass"), hash_password("secret-pass")
    assert a != b and a.startswith("scrypt$16384$8$1$")
    assert check_password("secret-pass", a) and not check_password("secret-pasS", a)
    assert not check_password("secret-pass", "garbage")


def _user_add(ws, *args: str, password: str, ok: bool = True):
    from typer.testing import CliRunner

    from siyu.cli import app

    r = CliRunner().invoke(app, ["user", "add", *args, "--password-stdin", "--home",
                                 str(ws.home)], input=password + "\n")
    if ok:
        assert r.exit_code == 0, r.output
    return r


def test_user_add_stores_a_hash_and_checks_its_input(ws):
    r = _user_add(ws, "mei", "--role", "operator", password="long-enough-1")
    assert "mei" in r.stdout
    with ws.ops.engine.connect() as c:
        row = c.execute(select(console_users)).one()
    assert row.role == "operator" and "long-enough-1" not in row.password_hash
    assert check_password("long-enough-1", row.password_hash)
    r = _user_add(ws, "mei", "--role", "operator", password="long-enough-2", ok=False)
    assert r.exit_code == 2 and "exists already" in r.stderr
    r = _user_add(ws, "g1", "--role", "guide", password="long-enough-1", ok=False)
    assert r.exit_code == 2 and "--guide-id" in r.stderr
    r = _user_add(ws, "x", "--role", "boss", password="long-enough-1", ok=False)
    assert "unknown role" in r.stderr
    r = _user_add(ws, "y", "--role", "analyst", password="short", ok=False)
    assert "at least 8" in r.stderr


def test_apikey_create_prints_the_key_once_and_stores_its_hash(ws, cli):
    got = cli.json("apikey", "create", "etl", "--role", "operator", "--home", ws.home)
    assert got["key"].startswith("sk_") and len(got["key"]) > 40
    with ws.ops.engine.connect() as c:
        row = c.execute(select(api_keys)).one()
    assert row.key_hash != got["key"] and got["key"] not in row.key_hash
    assert row.prefix == got["key"][:10]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_serve_runs_the_api_and_console_and_owns_the_warehouse(brand, tmp_path, cli):
    home = tmp_path / "ws"
    shutil.copytree(brand, home)
    key = cli.json("apikey", "create", "probe", "--role", "analyst", "--home", home)["key"]
    port = _free_port()
    env = {**os.environ, "SIYU_LANG": "en"}
    proc = subprocess.Popen([sys.executable, "-m", "siyu", "serve", "--port", str(port),
                             "--home", str(home)], env=env, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.get(f"{base}/login", timeout=5)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read()
                assert time.monotonic() < deadline
                time.sleep(0.2)
        assert r.status_code == 200 and "siyu" in r.text
        assert httpx.get(f"{base}/static/vendor/echarts/echarts.min.js").status_code == 200
        me = httpx.get(f"{base}/api/v1/auth/me", headers={"X-API-Key": key}).json()
        assert me["name"] == "probe"
        busy = subprocess.run([sys.executable, "-m", "siyu", "summary", "--home", str(home)],
                              env=env, capture_output=True, text=True)
        assert busy.returncode == 1 and "in use" in busy.stderr
    finally:
        proc.terminate()
        proc.wait(20)
    assert f"127.0.0.1:{port}" in proc.stderr.read()
