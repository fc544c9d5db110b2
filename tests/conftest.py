"""Shared fixtures: an isolated environment, a fresh workspace, a CLI runner."""

from __future__ import annotations

import json
import os

import pytest
from typer.testing import CliRunner

from siyu.workspace import Workspace


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path_factory):
    """No SIYU_* variable of the developer's shell leaks into a test; messages in English
    (tests that check Chinese text set SIYU_LANG themselves)."""
    for k in list(os.environ):
        if k.startswith("SIYU_"):
            monkeypatch.delenv(k)
    monkeypatch.setenv("SIYU_LANG", "en")
    monkeypatch.setenv("SIYU_ID_SALT", "test-salt")  # known consumer ids (tests/identity)
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))


@pytest.fixture
def ws(tmp_path):
    w = Workspace.init(tmp_path / "ws", brand_name="测试品牌")
    yield w
    w.close()


class Cli:
    def __init__(self):
        self.runner = CliRunner()

    def __call__(self, *args: str, ok: bool = True):
        from siyu.cli import app

        r = self.runner.invoke(app, [str(a) for a in args], catch_exceptions=False)
        if ok:
            assert r.exit_code == 0, r.output
        return r

    def json(self, *args: str):
        r = self(*args, "--json")
        return json.loads(r.stdout)


@pytest.fixture
def cli():
    return Cli()


@pytest.fixture(scope="session")
def postgres_server():
    """One real PostgreSQL server for the session (see tests/support/postgres.py)."""
    from tests.support.postgres import PostgresServer

    server = PostgresServer(port=54329 + os.getpid() % 500).start()
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server) -> str:
    """A SQLAlchemy URL of a fresh, empty database on the session's PostgreSQL server."""
    return postgres_server.new_database()
