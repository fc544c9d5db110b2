"""Journeys and the outbox over the API, and the journey pages."""

from __future__ import annotations

from pathlib import Path

import siyu.activation.templates as templates
from tests.web.conftest import Client, copy_app

BIRTHDAY = (Path(templates.__file__).parent / "birthday_care.yaml").read_text(encoding="utf-8")


def test_deploy_pause_resume_and_stats_like_the_cli(brand, tmp_path, cli):
    ws, app, key = copy_app(brand, tmp_path / "ws", role="operator")
    try:
        c = Client(app, headers={"X-API-Key": key})
        got = c.post("/api/v1/journeys", json={"definition": BIRTHDAY}).json()
        assert (got["name"], got["version"], got["changed"]) == ("birthday_care", 1, True)
        again = c.post("/api/v1/journeys", json={"definition": BIRTHDAY}).json()
        assert again["changed"] is False
        assert [j["name"] for j in c.get("/api/v1/journeys").json()] == ["birthday_care"]
        assert c.post("/api/v1/journeys/birthday_care/pause").json()["status"] == "paused"
        assert c.get("/api/v1/journeys/birthday_care").json()["status"] == "paused"
        assert c.post("/api/v1/journeys/birthday_care/resume").json()["status"] == "active"
        from datetime import UTC, datetime

        from siyu.activation.engine import enrol_many
        from siyu.activation.store import definition

        cid = ws.warehouse.raw.execute("SELECT min(consumer_id) FROM identity_map").fetchone()[0]
        with ws.ops.engine.begin() as conn:
            j = definition(conn, "birthday_care", 1)
            assert enrol_many(conn, j, 1, [(cid, datetime.now(UTC), "manual:test")]) == 1
        v = c.get(f"/api/v1/consumers/{cid}").json()
        assert [(x["journey"], x["status"]) for x in v["journeys"]] == [("birthday_care",
                                                                         "active")]
        stats = c.get("/api/v1/journeys/birthday_care/stats")
        assert stats.status_code == 200, stats.text
        assert stats.json()["entered"] == 1
        r = c.get("/api/v1/journeys/nope/stats")
        assert (r.status_code, r.json()["code"]) == (404, "not_found")
        bad = c.post("/api/v1/journeys", json={"definition": "name: x\n"})
        assert bad.status_code == 400 and bad.json()["message"]["zh"] != ""
        assert c.get("/api/v1/outbox/counts").json() == {}
        assert c.get("/api/v1/outbox?limit=5").json() == []
        page = Client(app, headers={"X-API-Key": key}).get("/journeys/birthday_care")
        assert page.status_code == 200 and 'data-metric="entered"' in page.text
    finally:
        ws.close()
    assert stats.json() == cli.json("journey", "stats", "birthday_care", "--home",
                                    tmp_path / "ws")


def test_an_analyst_reads_journeys_but_may_not_deploy(brand, tmp_path):
    ws, app, key = copy_app(brand, tmp_path / "ws", role="analyst")
    try:
        c = Client(app, headers={"X-API-Key": key})
        assert c.get("/api/v1/journeys").status_code == 200
        r = c.post("/api/v1/journeys", json={"definition": BIRTHDAY})
        assert (r.status_code, r.json()["code"]) == (403, "forbidden")
        assert c.get("/api/v1/outbox").status_code == 403
    finally:
        ws.close()
