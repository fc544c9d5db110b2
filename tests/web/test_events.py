"""The event API: the importer's validation and rejects, idempotency, micro-batches shared by
concurrent requests, a bad request never costing its neighbours their rows."""

from __future__ import annotations

import threading

import pytest

from tests.web.conftest import Client, copy_app


@pytest.fixture
def fresh(brand, tmp_path):
    """The app over a private copy of the brand (the event API writes to it)."""
    ws, app, key = copy_app(brand, tmp_path / "ws")
    yield {"ws": ws, "app": app, "client": Client(app, headers={"X-API-Key": key})}
    ws.close()


def _orders(n: int, start: int = 0) -> list[dict]:
    return [{"order_id": f"API-{i:05d}", "consumer_key": f"member:API{i:05d}",
             "paid_at": "2025-12-20 10:00:00", "amount": 10 + i % 7,
             "channel_note": "pos"} for i in range(start, start + n)]


def test_rows_load_with_rejects_by_index_and_reposting_adds_nothing(fresh):
    c, ws = fresh["client"], fresh["ws"]
    before = ws.warehouse.count("orders")
    rows = _orders(5)
    rows[1]["amount"] = -3                      # out of range
    rows[3].pop("paid_at")                      # required column missing
    rows.append("not an object")
    r = c.post("/api/v1/events/orders", json={"rows": rows})
    assert r.status_code == 200, r.text
    got = r.json()
    assert (got["received"], got["accepted"], got["rejected"]) == (6, 3, 3)
    assert [x["index"] for x in got["rejects"]] == [1, 3, 5]
    assert [x["column"] for x in got["rejects"][:2]] == ["amount", "paid_at"]
    assert got["rejects"][2]["code"] == "not_an_object"
    assert got["batch"]["loaded"] == 3 and got["batch"]["duplicates"] == 0
    assert ws.warehouse.count("orders") == before + 3
    extra = ws.warehouse.raw.execute(
        "SELECT attrs FROM orders WHERE order_id = 'API-00000'").fetchone()[0]
    assert "pos" in str(extra)                  # extra keys are kept in attrs

    again = c.post("/api/v1/events/orders", json={"rows": rows}).json()
    assert again["batch"]["loaded"] == 0 and again["batch"]["duplicates"] == 3
    assert ws.warehouse.count("orders") == before + 3


def test_a_run_is_recorded_and_rejects_are_kept_like_file_imports(fresh):
    from sqlalchemy import select

    from siyu.ops.tables import import_runs

    ws = fresh["ws"]
    rows = _orders(2, 100)
    rows[0]["consumer_key"] = "nonsense"
    got = fresh["client"].post("/api/v1/events/orders", json={"rows": rows}).json()
    assert got["rejects"][0]["column"] == "consumer_key"
    with ws.ops.engine.connect() as conn:
        run = conn.execute(select(import_runs).where(
            import_runs.c.load_id == got["batch"]["load_id"])).first()
    assert (run.status, run.read, run.loaded, run.rejected) == ("done", 2, 1, 1)
    assert run.rejects_file and "nonsense" in open(run.rejects_file, encoding="utf-8").read()


def test_concurrent_requests_share_micro_batches_and_lose_nothing(fresh):
    c, ws = fresh["client"], fresh["ws"]
    before = ws.warehouse.count("orders")
    results: list[dict] = []
    bad_rows = [{" order_id": 1, "order_id": 2}]  # repeats a column name after trimming

    def post(i: int):
        rows = _orders(50, 1000 + i * 50)
        if i == 3:
            rows += bad_rows
        results.append(c.post("/api/v1/events/orders", json={"rows": rows}).json())

    threads = [threading.Thread(target=post, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert ws.warehouse.count("orders") == before + 8 * 50
    assert sum(r["accepted"] for r in results) == 400
    assert sum(r["rejected"] for r in results) == 1
    assert len({r["batch"]["load_id"] for r in results}) <= 8


def test_events_need_the_ingest_permission_and_a_known_table(fresh):
    from siyu.web.auth import create_api_key

    key = create_api_key(fresh["ws"].ops, "reader", "analyst")
    r = Client(fresh["app"], headers={"X-API-Key": key}).post(
        "/api/v1/events/orders", json={"rows": []})
    assert (r.status_code, r.json()["code"]) == (403, "forbidden")
    r = fresh["client"].post("/api/v1/events/nope", json={"rows": []})
    assert (r.status_code, r.json()["code"]) == (422, "invalid")
    r = fresh["client"].post("/api/v1/events/orders", json={"rows": "x"})
    assert r.status_code == 422


def test_api_events_reach_the_metrics_after_resolve(fresh):
    c = fresh["client"]
    rows = [{"event_id": "API-R1", "consumer_key": "member:APINEW1", "field": "membership",
             "action": "start", "occurred_at": "2025-12-10 09:00:00"}]
    assert c.post("/api/v1/events/relationships", json={"rows": rows}).json()["accepted"] == 1

    def fast():
        return c.get("/api/v1/metrics/fast?period=2025-12").json()

    before = fast()["capital"]
    report = c.post("/api/v1/identity/resolve").json()
    assert report["new_consumers"] == 1
    assert fast()["capital"] == before + 1
