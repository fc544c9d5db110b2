"""Official-account delivery receipts: the TEMPLATESENDJOBFINISH event at /callbacks/wechat,
plaintext and safe mode, in-process over httpx's ASGI transport against real fake-sent
messages."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from siyu.channels.dispatcher import drain
from siyu.channels.outbox import enqueue, receipts
from siyu.channels.wechat_callback import router, signature
from siyu.channels.wecom.crypto import CallbackCrypto
from siyu.ops.tables import callback_nonces
from tests.channels.conftest import AES_KEY, configure, fake_settings
from tests.channels.helpers import T0, rows

URL = "/callbacks/wechat"
TOKEN = "oaToken42"
APPID = "wxoa"
CR = CallbackCrypto(TOKEN, AES_KEY, APPID)
CREATE = 1772330400  # 2026-03-01 02:00:00 UTC
_n = iter(range(10**6))


def app_for(ws) -> FastAPI:
    app = FastAPI()
    app.include_router(router, prefix=URL)
    app.state.workspace = ws
    return app


@pytest.fixture
def sent3(ws, wechat):
    """Three template messages sent through the fake (MsgIDs 1000, 1001, 1002)."""
    configure(ws, **fake_settings(wechat=wechat), wechat_callback_token=TOKEN,
              wechat_encoding_aes_key=AES_KEY, channel_concurrency={"official_account": 1})
    tpl = {"template_id": "TPL1", "data": {"thing1": "会员日"}}
    enqueue(ws, [{"idempotency_key": f"oa{i}", "channel": "official_account",
                  "recipient": f"oOPENID{i}", "payload": tpl} for i in range(3)], now=T0)
    assert drain(ws, now=T0).sent == 3
    assert [r.provider_message_id for r in rows(ws)] == ["1000", "1001", "1002"]
    return ws


def event(msgid, status: str, *, create: int = CREATE, event: str = "TEMPLATESENDJOBFINISH",
          openid: str = "oOPENID0") -> str:
    return (f"<xml><ToUserName><![CDATA[gh_7f083739789a]]></ToUserName>"
            f"<FromUserName><![CDATA[{openid}]]></FromUserName><CreateTime>{create}</CreateTime>"
            f"<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[{event}]]></Event>"
            f"<MsgID>{msgid}</MsgID><Status><![CDATA[{status}]]></Status></xml>")


def plain(xml: str, *, ts: int | None = None, nonce: str | None = None, token: str = TOKEN):
    ts_s, nonce = str(ts if ts is not None else int(time.time())), nonce or f"n{next(_n)}"
    return {"signature": signature(token, ts_s, nonce), "timestamp": ts_s, "nonce": nonce,
            "openid": "oOPENID0"}, xml


def safe(xml: str, *, ts: int | None = None, nonce: str | None = None, cr=CR):
    p, _ = plain(xml, ts=ts, nonce=nonce)
    enc, msig = cr.seal(xml, p["timestamp"], p["nonce"])
    body = (f"<xml><ToUserName><![CDATA[gh_7f083739789a]]></ToUserName>"
            f"<Encrypt><![CDATA[{enc}]]></Encrypt></xml>")
    return {**p, "encrypt_type": "aes", "msg_signature": msig}, body


def call(app, method: str, params: dict, body: str = "", url: str = URL):
    async def go():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://siyu.test") as c:
            return await c.request(method, url, params=params, content=body.encode())

    return asyncio.run(go())


def receipt_table(ws) -> list[tuple]:
    return [(x["outbox_id"], x["status"], x["provider_message_id"], (x["detail"] or {}).get(
        "wechat_status")) for r in rows(ws) for x in receipts(ws, r.id)]


def test_url_verification_echoes_echostr_and_rejects_forgeries(sent3):
    app = app_for(sent3)
    p, _ = plain("")
    r = call(app, "GET", {**p, "echostr": "5837397501"})
    assert (r.status_code, r.text) == (200, "5837397501")
    r = call(app, "GET", {**p, "signature": "0" * 40, "echostr": "5837397501"})
    assert (r.status_code, r.text) == (403, "bad_signature")
    p, _ = plain("", token="not-our-token")
    assert call(app, "GET", {**p, "echostr": "x"}).status_code == 403


def test_signature_is_sha1_of_the_sorted_three(sent3):
    # the worked example of the public "message push" guide: Token AAAAA
    assert signature("AAAAA", "1714037059", "486452656") == \
        "899cf89e464efb63f54ddac96b0a0a235f53aa78"


@pytest.mark.parametrize("mode", [plain, safe])
def test_each_status_becomes_its_receipt(sent3, mode):
    app = app_for(sent3)
    for msgid, st in ((1000, "success"), (1001, "failed:user block"),
                      (1002, "failed: system failed")):
        r = call(app, "POST", *mode(event(msgid, st)))
        assert (r.status_code, r.text) == (200, "success")
    ids = [r.id for r in rows(sent3)]
    assert receipt_table(sent3) == [
        (ids[0], "sent", "1000", None), (ids[0], "delivered", "1000", "success"),
        (ids[1], "sent", "1001", None), (ids[1], "failed", "1001", "failed:user block"),
        (ids[2], "sent", "1002", None), (ids[2], "failed", "1002", "failed: system failed")]
    at = receipts(sent3, ids[0])[1]["at"]
    assert at.replace(tzinfo=at.tzinfo or UTC) == datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


def test_redelivered_unknown_and_other_events_record_nothing_new(sent3):
    app = app_for(sent3)
    for xml in (event(1000, "success"), event(1000, "success"),  # WeChat retried
                event(424242, "success"),  # a message siyu never sent
                event(1001, "success", event="subscribe")):
        r = call(app, "POST", *plain(xml))
        assert (r.status_code, r.text) == (200, "success")
    text = ("<xml><ToUserName>gh</ToUserName><FromUserName>o1</FromUserName><CreateTime>1"
            "</CreateTime><MsgType>text</MsgType><Content>你好</Content><MsgId>1001</MsgId></xml>")
    assert call(app, "POST", *plain(text)).text == "success"
    assert [x[1] for x in receipt_table(sent3)] == ["sent", "delivered", "sent", "sent"]


@pytest.mark.parametrize("case,status,code", [
    ("forged", 403, "bad_signature"), ("forged_msg_signature", 403, "bad_signature"),
    ("forged_outer_signature", 403, "bad_signature"), ("replay", 409, "replay"),
    ("replay_other_body", 409, "replay"), ("stale", 403, "stale_timestamp"),
    ("not_xml", 400, "malformed_body"), ("not_xml_safe", 400, "malformed_body"),
    ("no_encrypt", 400, "no_encrypt"), ("bad_ciphertext", 400, "bad_base64"),
    ("bad_event", 400, "malformed_event"), ("bad_msgid", 400, "malformed_event"),
    ("bad_status", 400, "unknown_status"), ("other_app", 403, "bad_receive_id"),
    ("missing", 400, "missing_parameter"), ("encrypt_type", 400, "bad_encrypt_type"),
    ("dtd", 400, "malformed_body")])
def test_rejections_are_logged_without_ids_and_never_recorded(sent3, caplog, case, status,
                                                             code):
    app = app_for(sent3)
    xml = event(1000, "success", openid="oSECRETOPENID")
    p, b = (safe if case in ("forged_msg_signature", "forged_outer_signature", "not_xml_safe",
                             "no_encrypt", "bad_ciphertext", "other_app") else plain)(xml)
    if case == "forged":
        p["signature"] = "f" * 40
    elif case == "forged_msg_signature":
        p["msg_signature"] = "f" * 40
    elif case == "forged_outer_signature":
        p["signature"] = "e" * 40
    elif case in ("replay", "replay_other_body"):
        assert call(app, "POST", p, event(1002, "failed: system failed")).status_code == 200
        if case == "replay_other_body":  # plaintext signatures do not cover the body
            b = event(1001, "failed:user block")
    elif case == "stale":
        p, b = plain(xml, ts=int(time.time()) - 3600)
    elif case in ("not_xml", "not_xml_safe"):
        b = "{not xml"
    elif case == "no_encrypt":
        b = "<xml><ToUserName>gh</ToUserName></xml>"
    elif case == "bad_ciphertext":
        b = "<xml><Encrypt>%%%</Encrypt></xml>"
        from siyu.channels.wecom.crypto import signature as msig

        p["msg_signature"] = msig(TOKEN, p["timestamp"], p["nonce"], "%%%")
    elif case == "bad_event":
        p, b = plain("<xml><Event>TEMPLATESENDJOBFINISH</Event></xml>")
    elif case == "bad_msgid":
        p, b = plain(event("12ab", "success"))
    elif case == "bad_status":
        p, b = plain(event(1000, "pending"))
    elif case == "other_app":
        p, b = safe(xml, cr=CallbackCrypto(TOKEN, AES_KEY, "wxother"))
    elif case == "missing":
        p.pop("nonce")
    elif case == "encrypt_type":
        p["encrypt_type"] = "sm4"
    elif case == "dtd":
        b = '<!DOCTYPE x [<!ENTITY e "1000">]><xml><MsgID>&e;</MsgID></xml>'
    before = receipt_table(sent3)
    with caplog.at_level(logging.INFO, logger="siyu.channels.wechat"):
        r = call(app, "POST", p, b)
    assert (r.status_code, r.text) == (status, code)
    assert receipt_table(sent3) == before
    logged = "\n".join(x.getMessage() for x in caplog.records if x.name.startswith("siyu"))
    assert f"wechat callback rejected: {code}" in logged
    assert "oSECRETOPENID" not in logged and "1000" not in logged


def test_not_configured_answers_503(ws):
    p, b = plain(event(1000, "success"))
    assert call(app_for(ws), "POST", p, b).status_code == 503
    assert call(app_for(ws), "GET", {**p, "echostr": "e"}).status_code == 503


def test_safe_mode_needs_the_aes_key(sent3):
    configure(sent3, wechat_encoding_aes_key="")
    r = call(app_for(sent3), "POST", *safe(event(1000, "success")))
    assert (r.status_code, r.text) == (503, "not_configured")


def test_nonces_are_kept_apart_from_wecom(sent3):
    ts, nonce = int(time.time()), "shared-nonce"
    with sent3.ops.engine.begin() as c:
        c.execute(callback_nonces.insert().values(source="wecom", timestamp=str(ts),
                                                  nonce=nonce, received_at=datetime.now(UTC)))
    r = call(app_for(sent3), "POST", *plain(event(1000, "success"), ts=ts, nonce=nonce))
    assert (r.status_code, r.text) == (200, "success")
    with sent3.ops.engine.connect() as c:
        assert sorted(x.source for x in c.execute(select(callback_nonces))) == ["wechat", "wecom"]


def test_mounted_in_the_siyu_web_app(sent3):
    from siyu.web.app import create_app

    app = create_app(sent3)
    r = call(app, "POST", *safe(event(1001, "failed:user block")))
    assert (r.status_code, r.text) == (200, "success")
    p, _ = plain("")
    assert call(app, "GET", {**p, "echostr": "hello"}).text == "hello"
    assert [x[1] for x in receipt_table(sent3)] == ["sent", "sent", "failed", "sent"]
