"""Saved audiences over the API: save, refresh, a page of members, audited export."""

from __future__ import annotations

import pytest

from siyu.ops.audit import entries
from tests.web.conftest import LAST_DAY, Client, copy_app


@pytest.fixture
def admin(brand, tmp_path):
    ws, app, key = copy_app(brand, tmp_path / "ws", role="admin")
    yield ws, Client(app, headers={"X-API-Key": key})
    ws.close()


def test_save_refresh_page_and_export(admin, cli):
    ws, c = admin
    expr = "tier >= 3"
    r = c.post("/api/v1/audiences/saved", json={"name": "buyers3", "expression": expr})
    assert r.status_code == 200, r.text
    got = c.post("/api/v1/audiences/saved/buyers3/refresh", json={"as_of": LAST_DAY}).json()
    n = c.post("/api/v1/audiences/count", json={"expression": expr, "as_of": LAST_DAY}
               ).json()["count"]
    row = next(a for a in got["audiences"] if a["audience"] == "buyers3")
    assert row["members"] == n > 0 and row["entered"] == n and row["left"] == 0

    page = c.get("/api/v1/audiences/saved/buyers3/members?limit=5&offset=0").json()
    assert page["total"] == n and len(page["members"]) == min(5, n)
    assert page["members"] == sorted(page["members"])
    listed = c.get("/api/v1/audiences/saved").json()
    assert [a["name"] for a in listed] == ["buyers3"]
    assert listed[0]["last_refresh"]["members"] == n

    r = c.post("/api/v1/audiences/saved/buyers3/export")
    assert r.status_code == 200, r.text
    lines = r.text.lstrip("\ufeff").strip().splitlines()
    assert len(lines) == n + 1
    e = entries(ws.ops, "export", limit=1)[0]
    assert e["actor"] == "apikey:tester" and e["target"] == "buyers3"

    again = c.post("/api/v1/audiences/saved", json={"name": "buyers3", "expression": expr})
    assert again.status_code == 400 and "replace" in again.json()["message"]["en"]


def test_unknown_saved_audience_is_404(admin):
    _, c = admin
    r = c.get("/api/v1/audiences/saved/nope")
    assert (r.status_code, r.json()["code"]) == (404, "not_found")
    r = c.post("/api/v1/audiences/saved/nope/refresh", json={})
    assert r.status_code == 404
