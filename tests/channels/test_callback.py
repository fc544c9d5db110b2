"""The WeCom callback router: in-process over httpx's ASGI transport, and once over real
loopback HTTP with uvicorn. Events become canonical rows through the importer."""

from __future__ import annotations

import asyncio
import logging
import time

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from siyu.channels.wecom.callback import router
from siyu.channels.wecom.crypto import CallbackCrypto
from siyu.ops.tables import callback_nonces, channel_inbound
from tests.channels.conftest import AES_KEY, CB_TOKEN, CORP, configure

URL = "/callbacks/wecom"


def app_for(ws) -> FastAPI:
    app = FastAPI()
    app.include_router(router, prefix=URL)
    app.state.workspace = ws
    return app


@pytest.fixture
def cws(ws):
    configure(ws, wecom_corp_id=CORP, wecom_callback_token=CB_TOKEN,
              wecom_encoding_aes_key=AES_KEY)
    return ws


CR = CallbackCrypto(CB_TOKEN, AES_KEY, CORP)
_n = iter(range(10**6))


def event_xml(change: str, create: int, **fields) -> str:
    ev = fields.pop("Event", "change_external_contact")
    extra = "".join(
        f"<{k}>" + ("".join(f"<Item><![CDATA[{i}]]></Item>" for i in v) if isinstance(v, list)
                    else f"<![CDATA[{v}]]>") + f"</{k}>" for k, v in fields.items())
    return (f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><FromUserName><![CDATA[sys]]>"
            f"</FromUserName><CreateTime>{create}</CreateTime><MsgType><![CDATA[event]]>"
            f"</MsgType><Event><![CDATA[{ev}]]></Event><ChangeType><![CDATA[{change}]]>"
            f"</ChangeType>{extra}</xml>")


def sealed(xml: str, *, ts: int | None = None, nonce: str | None = None, cr=CR):
    ts = str(ts if ts is not None else int(time.time()))
    nonce = nonce or f"n{next(_n)}"
    body, sig = cr.envelope(xml, ts, nonce, agent_id="2000003")
    return {"msg_signature": sig, "timestamp": ts, "nonce": nonce}, body


def call(app, method: str, params: dict, body: str = ""):
    async def go():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://siyu.test") as c:
            return await c.request(method, URL, params=params, content=body.encode())

    return asyncio.run(go())


def inbound(ws):
    with ws.ops.engine.connect() as c:
        return c.execute(select(channel_inbound).order_by(channel_inbound.c.id)).all()


def relationships(ws):
    return ws.warehouse.raw.execute(
        "SELECT consumer_key, field, action, field_ref, source, strftime(occurred_at AT TIME ZONE "
        "'UTC', '%Y-%m-%d %H:%M:%S') FROM relationships ORDER BY occurred_at, consumer_key, "
        "action").fetchall()


def test_url_verification_answers_the_decrypted_echostr(cws):
    ts, nonce = str(int(time.time())), "12345"
    enc, sig = CR.seal("1616140317555161061", ts, nonce)
    r = call(app_for(cws), "GET", {"msg_signature": sig, "timestamp": ts, "nonce": nonce,
                                   "echostr": enc})
    assert (r.status_code, r.text) == (200, "1616140317555161061")
    r = call(app_for(cws), "GET", {"msg_signature": "0" * 40, "timestamp": ts, "nonce": nonce,
                                   "echostr": enc})
    assert (r.status_code, r.text) == (403, "bad_signature")


def test_add_and_delete_contact_become_relationship_rows(cws):
    app = app_for(cws)
    t0 = 1772330400  # 2026-03-01 02:00:00 UTC
    p, b = sealed(event_xml("add_external_contact", t0, UserID="guide01",
                            ExternalUserID="wmCUST1", State="store_qr", WelcomeCode="WC-1"))
    r = call(app, "POST", p, b)
    assert (r.status_code, r.text) == (200, "success")
    p, b = sealed(event_xml("del_follow_user", t0 + 3600, UserID="guide01",
                            ExternalUserID="wmCUST1"))
    assert call(app, "POST", p, b).status_code == 200
    p, b = sealed(event_xml("edit_external_contact", t0 + 60, UserID="guide01",
                            ExternalUserID="wmCUST1"))
    assert call(app, "POST", p, b).status_code == 200
    assert relationships(cws) == [
        ("wecom:wmCUST1", "guide", "start", "guide01", "store_qr", "2026-03-01 02:00:00"),
        ("wecom:wmCUST1", "guide", "end", "guide01", "customer_deleted", "2026-03-01 03:00:00")]
    rows = inbound(cws)
    assert [(x.change_type, x.status) for x in rows] == [
        ("add_external_contact", "imported"), ("del_follow_user", "imported"),
        ("edit_external_contact", "ignored")]
    assert rows[0].welcome_code == "WC-1" and "WelcomeCode" not in rows[0].fields
    key = cws.warehouse.raw.execute(
        "SELECT count(*) FROM key_seen WHERE key = 'wecom:wmCUST1'").fetchone()[0]
    assert key >= 1  # registered for OneID like any imported key


def test_a_redelivered_event_is_stored_and_loaded_once(cws):
    app = app_for(cws)
    xml = event_xml("add_external_contact", 1772330400, UserID="g", ExternalUserID="wmX")
    for _ in range(2):  # WeCom retries with a new nonce when it got no answer in time
        p, b = sealed(xml)
        assert call(app, "POST", p, b).status_code == 200
    assert len(inbound(cws)) == 1 and len(relationships(cws)) == 1


def test_group_create_members_and_dismiss(cws):
    app = app_for(cws)
    t0 = 1772330400
    for xml in [
        event_xml("create", t0, Event="change_external_chat", ChatId="wrCHAT"),
        event_xml("update", t0 + 10, Event="change_external_chat", ChatId="wrCHAT",
                  UpdateDetail="add_member", JoinScene="3", MemChangeCnt="3",
                  MemChangeList=["wmA", "staff01", "woB"]),
        event_xml("update", t0 + 20, Event="change_external_chat", ChatId="wrCHAT",
                  UpdateDetail="del_member", QuitScene="0", MemChangeList=["wmA"]),
        event_xml("dismiss", t0 + 30, Event="change_external_chat", ChatId="wrCHAT"),
    ]:
        p, b = sealed(xml)
        assert call(app, "POST", p, b).status_code == 200
    assert [r[:5] for r in relationships(cws)] == [
        ("wecom:wmA", "group_chat", "start", "wrCHAT", "qr_code"),
        ("wecom:woB", "group_chat", "start", "wrCHAT", "qr_code"),
        ("wecom:wmA", "group_chat", "end", "wrCHAT", "left"),
        ("wecom:woB", "group_chat", "end", "wrCHAT", "dismissed")]
    tp = cws.warehouse.raw.execute("SELECT field_ref, field FROM touchpoints").fetchall()
    assert tp == [("wrCHAT", "group_chat")]


@pytest.mark.parametrize("case,status,code", [
    ("forged", 403, "bad_signature"), ("replay", 409, "replay"), ("stale", 403, "stale_timestamp"),
    ("not_xml", 400, "malformed_body"), ("no_encrypt", 400, "no_encrypt"),
    ("bad_event", 400, "malformed_event"), ("other_corp", 403, "bad_receive_id"),
    ("missing", 400, "missing_parameter")])
def test_rejections_are_logged_without_personal_data_and_never_imported(cws, caplog, case,
                                                                        status, code):
    app = app_for(cws)
    xml = event_xml("add_external_contact", 1772330400, UserID="guide01",
                    ExternalUserID="wmSECRET", WelcomeCode="WC")
    p, b = sealed(xml)
    if case == "forged":
        p["msg_signature"] = "f" * 40
    elif case == "replay":
        assert call(app, "POST", p, b).status_code == 200
    elif case == "stale":
        p, b = sealed(xml, ts=int(time.time()) - 3600)
    elif case == "not_xml":
        b = "{not xml"
    elif case == "no_encrypt":
        b = "<xml><ToUserName>x</ToUserName></xml>"
    elif case == "bad_event":
        p, b = sealed("<xml><Event>change_external_contact</Event></xml>")
    elif case == "other_corp":
        p, b = sealed(xml, cr=CallbackCrypto(CB_TOKEN, AES_KEY, "wwother"))
    elif case == "missing":
        p.pop("nonce")
    n_before = len(inbound(cws))
    with caplog.at_level(logging.WARNING, logger="siyu.channels.wecom"):
        r = call(app, "POST", p, b)
    assert (r.status_code, r.text) == (status, code)
    assert len(inbound(cws)) == n_before
    assert f"wecom callback rejected: {code}" in caplog.text
    assert "wmSECRET" not in caplog.text and "guide01" not in caplog.text


def test_not_configured_answers_503(ws):
    r = call(app_for(ws), "GET", {"msg_signature": "a", "timestamp": "1", "nonce": "n",
                                  "echostr": "e"})
    assert r.status_code == 503


def test_old_nonces_are_pruned(cws):
    app = app_for(cws)
    p, b = sealed(event_xml("add_external_contact", 1772330400, UserID="g", ExternalUserID="wm1"))
    call(app, "POST", p, b)
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    with cws.ops.engine.begin() as c:
        c.execute(update(callback_nonces).values(received_at=datetime.now(UTC) - timedelta(
            hours=1)))
    p, b = sealed(event_xml("add_external_contact", 1772330401, UserID="g", ExternalUserID="wm2"))
    call(app, "POST", p, b)
    with cws.ops.engine.connect() as c:
        assert len(c.execute(select(callback_nonces)).all()) == 1


def test_over_real_loopback_http_with_uvicorn(cws):
    from tests.channels.helpers import served

    with served(app_for(cws)) as port:
        ts, nonce = str(int(time.time())), "777"
        enc, sig = CR.seal("echo-123", ts, nonce)
        r = httpx.get(f"http://127.0.0.1:{port}{URL}", params={
            "msg_signature": sig, "timestamp": ts, "nonce": nonce, "echostr": enc})
        assert (r.status_code, r.text) == (200, "echo-123")
        p, b = sealed(event_xml("add_external_contact", 1772330400, UserID="g1",
                                ExternalUserID="wmLOOP"))
        r = httpx.post(f"http://127.0.0.1:{port}{URL}", params=p, content=b.encode())
        assert (r.status_code, r.text) == (200, "success")
        for _ in range(100):  # the background load runs after the answer
            if inbound(cws)[0].status != "pending":
                break
            time.sleep(0.05)
        assert [r[0] for r in relationships(cws)] == ["wecom:wmLOOP"]


def test_mounted_in_the_siyu_web_app(cws):
    """`siyu serve` mounts the router at /callbacks/wecom; the load takes the server's
    warehouse lock."""
    from siyu.web.app import create_app

    app = create_app(cws)
    p, b = sealed(event_xml("add_external_contact", 1772330400, UserID="g",
                            ExternalUserID="wmWEB"))
    r = call(app, "POST", p, b)
    assert (r.status_code, r.text) == (200, "success")
    assert [x[0] for x in relationships(cws)] == ["wecom:wmWEB"]


WELCOME_JOURNEY = """\
name: wecom_hello
title: 新好友问候
trigger: {type: event, event: relationship, where: {field: guide, action: start}}
steps:
  - send: {channel: wecom, purpose: service, template: "欢迎添加专属导购！"}
"""


def test_a_callback_reaches_a_journey_trigger_and_goes_out_through_wecom(cws, wecom):
    """End to end: add_external_contact callback → canonical relationship row (importer) →
    OneID → the journey's event trigger (real clock) → outbox → a WeCom mass-send task for
    that customer. A new customer's key has no consumer id until OneID runs."""
    from siyu.activation.runner import worker
    from siyu.activation.store import deploy
    from siyu.identity import resolve
    from siyu.ops.tables import outbox
    from tests.channels.conftest import fake_settings

    configure(cws, **fake_settings(wecom=wecom), quiet_hours_start="00:00",
              quiet_hours_end="00:00")
    deploy(cws.ops, WELCOME_JOURNEY, actor="test")
    time.sleep(1.1)  # the event happens after the journey exists
    p, b = sealed(event_xml("add_external_contact", int(time.time()), UserID="guide07",
                            ExternalUserID="wmNEWFRIEND", State="store_qr"))
    assert call(app_for(cws), "POST", p, b).status_code == 200
    assert [r[:3] for r in relationships(cws)] == [("wecom:wmNEWFRIEND", "guide", "start")]
    resolve(cws)  # a new customer's key gets its consumer id (`siyu channels flush --resolve`)
    assert worker(cws, once=True)["entered"] == 1
    with cws.ops.engine.connect() as c:
        got = c.execute(select(outbox.c.channel, outbox.c.recipient, outbox.c.status)).all()
    assert got == [("wecom", "wmNEWFRIEND", "sent")]
    assert [(t["targets"], t["text"]) for t in wecom.tasks] == [
        (["wmNEWFRIEND"], {"content": "欢迎添加专属导购！"})]


def test_a_worker_pass_before_oneid_does_not_lose_the_callback_event(cws, wecom):
    """A journey pass that reads the callback's import before OneID mapped the new key keeps
    its import cursor before that import: the row enters after OneID."""
    from siyu.activation.runner import worker
    from siyu.activation.store import deploy
    from siyu.identity import resolve
    from tests.channels.conftest import fake_settings

    configure(cws, **fake_settings(wecom=wecom), quiet_hours_start="00:00",
              quiet_hours_end="00:00")
    deploy(cws.ops, WELCOME_JOURNEY, actor="test")
    time.sleep(1.1)
    p, b = sealed(event_xml("add_external_contact", int(time.time()), UserID="guide07",
                            ExternalUserID="wmLATE"))
    assert call(app_for(cws), "POST", p, b).status_code == 200
    assert worker(cws, once=True)["entered"] == 0  # the key has no consumer id yet
    resolve(cws)
    assert worker(cws, once=True)["entered"] == 1


def test_a_failure_while_storing_does_not_spend_the_nonce(cws, caplog):
    """The nonce is recorded in the event's own transaction: when storing fails (here a real
    SQLite trigger aborts the insert), WeCom's retry of the same request — same timestamp and
    nonce — is accepted and the event kept, not refused as a replay and lost."""
    from sqlalchemy import text

    app = app_for(cws)
    p, b = sealed(event_xml("add_external_contact", 1772330400, UserID="g1",
                            ExternalUserID="wmRETRY"))
    with cws.ops.engine.begin() as c:
        c.execute(text("CREATE TRIGGER siyu_test_full BEFORE INSERT ON channel_inbound "
                       "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"))

    async def post():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(
                app=app, raise_app_exceptions=False), base_url="http://siyu.test") as c:
            return await c.post(URL, params=p, content=b.encode())

    with caplog.at_level(logging.DEBUG):
        r = asyncio.run(post())
    assert (r.status_code, r.text) == (500, "store_failed")
    assert "storing the event failed (IntegrityError)" in caplog.text
    assert "wmRETRY" not in caplog.text and "g1" not in caplog.text
    with cws.ops.engine.connect() as c:
        assert c.execute(select(callback_nonces)).all() == []  # rolled back with the event
    with cws.ops.engine.begin() as c:
        c.execute(text("DROP TRIGGER siyu_test_full"))
    r = call(app, "POST", p, b)  # WeCom retries the same request
    assert (r.status_code, r.text) == (200, "success")
    assert [x.fields["ExternalUserID"] for x in inbound(cws)] == ["wmRETRY"]
    assert call(app, "POST", p, b).status_code == 409  # now it is a replay
