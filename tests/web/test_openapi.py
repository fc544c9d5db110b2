"""Schemathesis over the OpenAPI description: generated requests to every operation, as an
admin, never get a 5xx (on a private copy of the brand: the event API writes)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.web.conftest import copy_app


@pytest.fixture(scope="module")
def admin_app(brand, tmp_path_factory):
    ws, app, key = copy_app(brand, tmp_path_factory.mktemp("openapi") / "ws", role="admin")
    yield app, key
    ws.close()


def _operations(app):
    """Every operation of siyu's own API (the WeCom callback speaks WeCom's protocol and is
    tested by tests/channels against its fake server)."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    ops = [r.ok() for r in schema.get_all_operations()]
    return [op for op in ops if op.path.startswith("/api/")]


def test_every_operation_is_fuzzed_without_a_server_error(admin_app):
    app, key = admin_app
    ops = _operations(app)
    assert len(ops) >= 15
    for op in ops:
        @given(case=op.as_strategy())
        @settings(max_examples=8, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case):
            r = case.call(headers={"X-API-Key": key})
            assert r.status_code < 500, (
                f"{case.method} {case.formatted_path}: {r.status_code} {r.text[:500]}")
            if r.status_code >= 400:
                body = r.json()
                assert set(body) == {"code", "message"} and set(body["message"]) == {"zh", "en"}

        run()
