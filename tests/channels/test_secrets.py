"""Channel credentials are never logged, never stored with an outcome and never returned by
the API — also when the process logs everything at DEBUG (httpx logs each request URL, and
the WeChat-family APIs carry secrets and access tokens in the query string)."""

from __future__ import annotations

import logging

import anyio
import httpx
from sqlalchemy import select

from siyu.channels.dispatcher import drain
from siyu.channels.fakes import Fault
from siyu.channels.http import redact
from siyu.channels.outbox import enqueue
from siyu.ops.tables import channel_attempts, channel_receipts, outbox
from tests.channels.conftest import AES_KEY, CB_TOKEN
from tests.channels.helpers import T0

SECRETS = ("corp-secret", "oa-secret", "mp-secret", "sms-key", "hook-secret", AES_KEY,
           CB_TOKEN, "wecom-tok-", "wx-tok-")


def _everything(ws) -> None:
    enqueue(ws, [
        {"idempotency_key": "w1", "channel": "wecom", "recipient": "wm1", "guide_id": "g1",
         "payload": {"text": "您好"}},
        {"idempotency_key": "o1", "channel": "official_account", "recipient": "openid-1",
         "payload": {"template_id": "T1", "data": {"thing1": "会员日"}}},
        {"idempotency_key": "p1", "channel": "miniprogram", "recipient": "openid-2",
         "payload": {"template_id": "T2", "data": {"thing1": "到货"}}},
        {"idempotency_key": "s1", "channel": "sms", "recipient": "13800138000",
         "payload": {"template_id": "1", "params": ["王"]}},
        {"idempotency_key": "h1", "channel": "webhook", "payload": {"n": 1}},
    ], now=T0)


def _assert_clean(text: str) -> None:
    for s in SECRETS:
        assert s not in text, s


def test_redact_masks_credential_parameters():
    assert redact("GET https://qyapi.weixin.qq.com/cgi-bin/gettoken?corpid=ww1&corpsecret=S3"
                  " \"HTTP/1.1 200\"") == (
        "GET https://qyapi.weixin.qq.com/cgi-bin/gettoken?corpid=ww1&corpsecret=*** "
        "\"HTTP/1.1 200\"")
    assert redact("/cgi-bin/token?grant_type=client_credential&appid=wx1&secret=abc") == (
        "/cgi-bin/token?grant_type=client_credential&appid=wx1&secret=***")
    assert redact("/x?access_token=T-1&debug=1") == "/x?access_token=***&debug=1"


def test_no_credential_in_debug_logs_or_stored_errors(wired, wecom, wechat, caplog):
    ws = wired
    # an expired token (a second fetch), a refused call and a transient error on the way
    wecom.add_faults("/cgi-bin/externalcontact/add_msg_template",
                     Fault.code({"errcode": 42001, "errmsg": "access_token expired"}))
    wechat.add_faults("/cgi-bin/message/subscribe/send", Fault(502))
    _everything(ws)
    with caplog.at_level(logging.DEBUG):
        got = drain(ws, now=T0)
        ws.settings.wecom_secret = type(ws.settings.wecom_secret)("wrong-secret")
        from sqlalchemy import delete

        from siyu.ops.tables import channel_tokens

        with ws.ops.engine.begin() as c:
            c.execute(delete(channel_tokens))
        enqueue(ws, [{"idempotency_key": "w2", "channel": "wecom", "recipient": "wm2",
                      "guide_id": "g1", "payload": {"text": "再见"}}], now=T0)
        bad = drain(ws, now=T0)
    assert (got.sent, got.retried) == (4, 1) and bad.dead == 1
    assert "HTTP Request: GET" in caplog.text  # httpx did log the requests …
    assert "corpsecret=***" in caplog.text and "access_token=***" in caplog.text
    _assert_clean(caplog.text)  # … with the credentials masked
    assert "wrong-secret" not in caplog.text
    with ws.ops.engine.connect() as c:
        stored = [str(r) for t in (outbox, channel_attempts, channel_receipts)
                  for r in c.execute(select(t))]
    _assert_clean("\n".join(stored))
    assert "wrong-secret" not in "\n".join(stored)


def test_the_api_never_returns_credentials(wired):
    from siyu.web import create_app
    from siyu.web.auth import create_api_key

    ws = wired
    _everything(ws)
    drain(ws, now=T0)
    ws.ensure()
    key = create_api_key(ws.ops, "admin-key", "admin")
    app = create_app(ws)

    async def go() -> list[httpx.Response]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://siyu.test",
                                     headers={"X-API-Key": key}) as c:
            return [await c.get(u) for u in ("/api/v1/outbox?limit=50", "/api/v1/outbox/counts",
                                             "/openapi.json")]

    answers = anyio.run(go)
    assert [r.status_code for r in answers] == [200, 200, 200]
    assert len(answers[0].json()) == 5
    assert answers[1].json()["wecom"] == {"sent": 1}
    _assert_clean("\n".join(r.text for r in answers))
