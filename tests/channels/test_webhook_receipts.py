"""Webhook receipts: what the receiver's answer says at send time, and what it reports later
at ``/callbacks/webhook`` (signed with webhook_secret), in-process over httpx's ASGI
transport with the siyu web app."""

from __future__ import annotations

import json
import logging
import time

import anyio
import httpx
import pytest
from sqlalchemy import select

from siyu.channels.dispatcher import drain
from siyu.channels.outbox import receipts
from siyu.channels.webhook import sign
from siyu.ops.tables import outbox
from tests.channels.conftest import configure, fake_settings
from tests.channels.helpers import T0, put, rows

URL = "/callbacks/webhook"


def test_the_answer_at_send_time_gives_delivered_or_read(ws, webhook):
    configure(ws, **fake_settings(webhook=webhook))
    webhook.answer_status.update({"m0": "read", "m1": "delivered"})
    put(ws, "webhook", 3, recipient=None)
    assert drain(ws, now=T0).sent == 3
    r = rows(ws)
    assert [[x["status"] for x in receipts(ws, x.id)] for x in r] == [
        ["sent", "read"], ["sent", "delivered"], ["sent"]]
    assert [x.read_at is not None for x in r] == [True, False, False]


def _post(app, body: bytes, *, secret: str = "hook-secret", ts: int | None = None):
    stamp = str(ts if ts is not None else int(time.time()))
    headers = {"Content-Type": "application/json", "X-Siyu-Timestamp": stamp,
               "X-Siyu-Signature": sign(secret, stamp, body)}

    async def go():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://siyu.test") as c:
            return await c.post(URL, content=body, headers=headers)

    return anyio.run(go)


@pytest.fixture
def sent(ws, webhook):
    """Two webhook messages sent (provider ids wh-m0, wh-m1) and the web app."""
    from siyu.web import create_app

    configure(ws, **fake_settings(webhook=webhook))
    put(ws, "webhook", 2, recipient=None)
    drain(ws, now=T0)
    ws.ensure()
    return ws, create_app(ws)


def test_later_receipts_are_recorded_and_bad_items_refused_alone(sent, caplog):
    ws, app = sent
    body = json.dumps({"receipts": [
        {"idempotency_key": "m0", "status": "read", "at": 1772330400},
        {"id": "wh-m1", "status": "delivered"},
        {"idempotency_key": "m1", "status": "opened"},
        {"idempotency_key": "nobody", "status": "failed"},
        "junk",
    ]}).encode()
    with caplog.at_level(logging.DEBUG):
        r = _post(app, body)
    assert r.status_code == 200
    assert r.json() == {"recorded": {"read": 1, "delivered": 1}, "unmatched": 1, "rejected": [
        {"index": 2, "error": "status must be one of delivered, read, failed"},
        {"index": 4, "error": "not an object"}]}
    ids = [x.id for x in rows(ws)]
    assert [x["status"] for x in receipts(ws, ids[0])] == ["sent", "read"]
    assert [x["status"] for x in receipts(ws, ids[1])] == ["sent", "delivered"]
    with ws.ops.engine.connect() as c:
        read_at = c.execute(select(outbox.c.read_at).where(outbox.c.id == ids[0])).scalar()
    assert read_at.strftime("%Y-%m-%d %H:%M:%S") == "2026-03-01 02:00:00"
    assert "m0" not in caplog.text and "wh-m1" not in caplog.text
    again = _post(app, body)  # a replay records nothing new
    assert again.json()["recorded"] == {}


@pytest.mark.parametrize("case,status,code", [
    ("forged", 403, "bad_signature"), ("stale", 403, "bad_signature"),
    ("not_json", 400, "malformed_body"), ("no_list", 400, "no_receipts"),
    ("too_many", 400, "too_many_receipts")])
def test_whole_requests_refused_with_a_reason(sent, caplog, case, status, code):
    ws, app = sent
    body = json.dumps({"receipts": [{"idempotency_key": "m0", "status": "read"}]}).encode()
    kw = {}
    if case == "forged":
        kw["secret"] = "wrong"
    elif case == "stale":
        kw["ts"] = int(time.time()) - 3600
    elif case == "not_json":
        body = b"{nope"
    elif case == "no_list":
        body = b'{"receipt": []}'
    elif case == "too_many":
        body = json.dumps({"receipts": [{"id": "x", "status": "read"}] * 1001}).encode()
    with caplog.at_level(logging.WARNING):
        r = _post(app, body, **kw)
    assert (r.status_code, r.json()) == (status, {"code": code})
    assert f"webhook receipts rejected: {code}" in caplog.text
    assert [x["status"] for x in receipts(ws, rows(ws)[0].id)] == ["sent"]


def test_not_configured_answers_503(ws):
    from siyu.web import create_app

    ws.ensure()
    r = _post(create_app(ws), b'{"receipts": []}')
    assert (r.status_code, r.json()) == (503, {"code": "not_configured"})
