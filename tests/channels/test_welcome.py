"""Welcome messages 欢迎语: rules in welcome.yaml, the row queued with the add-contact callback,
send_welcome_msg at the fake WeCom, and the latency from callback to send over loopback."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from siyu.channels.dispatcher import claim, drain, urgent_due
from siyu.channels.fakes import Fault
from siyu.channels.wecom.events import store_event
from siyu.channels.wecom.welcome import parse_rules, validate_text
from siyu.ops.tables import callback_nonces, channel_inbound, outbox
from tests.channels.conftest import configure, fake_settings, write_settings
from tests.channels.helpers import put, rows, served
from tests.channels.test_callback import URL, app_for, call, event_xml, sealed

RULES = """\
# 欢迎语
guide_names:
  guide01: 小林
rules:
  - name: store_qr
    state: store_qr
    text: 您好，我是{brand}的{guide_name}，很高兴认识您！
    attachments:
      - link: {title: 新人礼, url: "https://example.com/gift"}
  - name: vip
    guides: [guide09]
    text: 您好，我是您的专属顾问。
"""
DEFAULT = """\
default:
  text: 您好，我是{guide_name}，有需要随时找我。
"""
STORE_TEXT = "您好，我是测试品牌的小林，很高兴认识您！"
LINK = {"msgtype": "link", "link": {"title": "新人礼", "url": "https://example.com/gift"}}


@pytest.fixture
def wws(ws, wecom):
    configure(ws, **fake_settings(wecom=wecom))
    (ws.home / "welcome.yaml").write_text(RULES, encoding="utf-8")
    return ws


def add_event(code: str | None = "WC-1", *, state: str | None = "store_qr",
              guide: str = "guide01", ext: str = "wmNEW1", change="add_external_contact",
              at: int | None = None) -> str:
    extra = {"UserID": guide, "ExternalUserID": ext}
    if state:
        extra["State"] = state
    if code:
        extra["WelcomeCode"] = code
    return event_xml(change, at or int(time.time()), **extra)


def post(app, xml: str) -> None:
    p, b = sealed(xml)
    r = call(app, "POST", p, b)
    assert (r.status_code, r.text) == (200, "success")


def queued(ws) -> list:
    with ws.ops.engine.connect() as c:
        return c.execute(select(outbox).where(outbox.c.source.like("welcome:%"))
                         .order_by(outbox.c.id)).all()


def test_a_state_rule_sends_exactly_one_welcome_with_its_text_and_the_code(wws, wecom):
    wecom.welcome_codes["WC-1"] = False
    post(app_for(wws), add_event("WC-1"))
    q = queued(wws)
    assert [(r.channel, r.recipient, r.guide_id, r.purpose, r.source, r.consumer_id)
            for r in q] == [("wecom", "wmNEW1", "guide01", "service", "welcome:store_qr", None)]
    got = drain(wws)
    assert (got.sent, got.dead) == (1, 0)
    assert wecom.welcomes == [{"welcome_code": "WC-1", "text": {"content": STORE_TEXT},
                               "attachments": [LINK]}]
    assert [r.status for r in rows(wws)] == ["sent"]


def test_a_replayed_or_redelivered_callback_still_sends_one(wws, wecom):
    wecom.welcome_codes["WC-1"] = False
    app = app_for(wws)
    xml = add_event("WC-1")
    p, b = sealed(xml)
    assert call(app, "POST", p, b).status_code == 200
    assert call(app, "POST", p, b).status_code == 409  # the same request again: a replay
    post(app, xml)  # WeCom's redelivery (new nonce): the event is stored once
    assert len(queued(wws)) == 1
    drain(wws)
    post(app, xml)  # redelivered after the send
    drain(wws)
    assert len(queued(wws)) == 1 and len(wecom.welcomes) == 1


def test_no_welcome_code_no_welcome(wws, wecom):
    """The guide's welcome is set in the WeCom admin: the callback carries no WelcomeCode."""
    post(app_for(wws), add_event(None))
    assert queued(wws) == [] and drain(wws).claimed == 0 and wecom.welcomes == []


def test_no_matching_rule_and_no_default_queues_nothing_and_says_so_without_ids(wws, wecom,
                                                                                caplog):
    wecom.welcome_codes["WC-9"] = False
    with caplog.at_level(logging.DEBUG, logger="siyu.channels"):
        post(app_for(wws), add_event("WC-9", state="other_qr", guide="guide05", ext="wmSECRET"))
    assert queued(wws) == [] and wecom.welcomes == []
    assert "no rule matched and no default; nothing queued" in caplog.text
    assert "wmSECRET" not in caplog.text and "guide05" not in caplog.text


def test_rule_order_guides_and_the_default(wws, wecom):
    (wws.home / "welcome.yaml").write_text(RULES + DEFAULT, encoding="utf-8")
    app = app_for(wws)
    for i, (state, guide) in enumerate([("store_qr", "guide09"), (None, "guide09"),
                                        ("other", "guide02")]):
        wecom.welcome_codes[f"C{i}"] = False
        post(app, add_event(f"C{i}", state=state, guide=guide, ext=f"wm{i}"))
    assert [r.source for r in queued(wws)] == ["welcome:store_qr", "welcome:vip",
                                               "welcome:default"]
    drain(wws)
    assert [w["text"]["content"] for w in wecom.welcomes] == [
        "您好，我是测试品牌的您的专属顾问，很高兴认识您！",  # guide09 has no name in the file
        "您好，我是您的专属顾问。", "您好，我是您的专属顾问，有需要随时找我。"]


def test_half_add_then_add_welcomes_once(wws, wecom):
    """免验证: add_half_external_contact (with a code), then add_external_contact when the
    guide confirms: one welcome."""
    wecom.welcome_codes.update({"H1": False, "H2": False})
    app = app_for(wws)
    t = int(time.time())
    post(app, add_event("H1", change="add_half_external_contact", at=t))
    post(app, add_event("H2", at=t + 1))
    assert len(queued(wws)) == 1
    drain(wws)
    assert [w["welcome_code"] for w in wecom.welcomes] == ["H1"]


def test_a_code_older_than_20_s_is_dead_lettered_with_the_reason(wws, wecom):
    wecom.welcome_codes["OLD"] = False
    now = datetime.now(UTC)
    store_event(wws, {"Event": "change_external_contact", "ChangeType": "add_external_contact",
                      "UserID": "guide01", "ExternalUserID": "wmLATE", "State": "store_qr",
                      "WelcomeCode": "OLD", "CreateTime": str(int(now.timestamp()) - 25)},
                received_at=now - timedelta(seconds=25))
    got = drain(wws)
    assert (got.sent, got.dead) == (0, 1) and wecom.welcomes == []
    assert rows(wws)[0].last_error == "wecom welcome: the WelcomeCode is older than 20 s"


def test_a_transient_error_is_retried_within_a_second_not_after_the_backoff(wws, wecom):
    wecom.welcome_codes["WC-1"] = False
    wecom.add_faults("/cgi-bin/externalcontact/send_welcome_msg", Fault(503))
    post(app_for(wws), add_event("WC-1"))
    now = datetime.now(UTC)
    assert drain(wws, now=now).retried == 1  # dispatch_backoff_seconds is 1 s here, 30 default
    r = rows(wws)[0]
    wait = (r.next_attempt_at.replace(tzinfo=UTC) - now).total_seconds()
    assert 0 < wait <= 1.0 and r.status == "failed"
    assert drain(wws, now=now + timedelta(seconds=1)).sent == 1 and len(wecom.welcomes) == 1


def test_welcome_rows_are_claimed_before_a_backlog(wws, wecom):
    configure(wws, dispatch_batch=10)
    now = datetime.now(UTC)
    put(wws, "wecom", 30, now=now - timedelta(minutes=5))  # mass-send backlog, due earlier
    wecom.welcome_codes["WC-1"] = False
    assert not urgent_due(wws)
    post(app_for(wws), add_event("WC-1"))
    assert urgent_due(wws)
    got = drain(wws, limit=10)  # one batch of 10: the welcome and 9 of the backlog
    assert (got.claimed, got.sent) == (10, 10) and len(wecom.welcomes) == 1
    assert not urgent_due(wws)
    assert [r.status for r in rows(wws)].count("pending") == 21
    assert claim(wws, datetime.now(UTC), 10, urgent=True) == []  # nothing urgent is left


def test_an_invalid_rules_file_queues_nothing_and_warns_without_ids(wws, wecom, caplog):
    (wws.home / "welcome.yaml").write_text("rules:\n  - name: x\n    text: hi\n",
                                           encoding="utf-8")
    with caplog.at_level(logging.DEBUG, logger="siyu.channels"):
        post(app_for(wws), add_event("WC-1", ext="wmHIDDEN"))
    assert queued(wws) == []
    assert "welcome rules welcome.yaml invalid (1 problems)" in caplog.text
    assert "wmHIDDEN" not in caplog.text
    assert [r.status for r in (wws.ops.engine.connect().execute(select(
        channel_inbound.c.status)).all())] == ["imported"]  # the event itself is kept


MALFORMED = """\
rules:
  - name: a
    state: s
    text: 再不买就没了！{customer}
  - name: b
    guides: g1
    attachments:
      - miniprogram: {title: 会员, pic_media_id: M, appid: wx1, page: /pages/index}
      - pigeon: {x: 1}
default: {text: ""}
"""


def test_a_malformed_file_is_refused_with_line_and_reason(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("SIYU_LANG", "en")
    _, problems = validate_text(MALFORMED)
    assert [(p.line, p.path) for p in problems] == [
        (4, "rules[0].text"), (4, "rules[0].text"), (4, "rules[0].text"),
        (8, "rules[1].attachments[0].miniprogram.page"), (9, "rules[1].attachments[1]"),
        (10, "default.text")]
    assert [p.reason for p in problems] == [
        "pressure or absolute wording '再不买' (DOMAIN §12); write e.g. 「您的专属福利即将过期，"
        "是否查看？」",
        "pressure or absolute wording '就没了' (DOMAIN §12); write e.g. 「您的专属福利即将过期，"
        "是否查看？」",
        "unknown placeholder {customer}; known: {guide_name}, {brand} (the customer is not "
        "known to siyu yet)",
        "the mini-program page must end in .html (WeCom)",
        "an attachment is a mapping with one kind key: image, link, miniprogram, video, file",
        "must be non-empty text"]
    f = tmp_path / "welcome.yaml"
    f.write_text(MALFORMED, encoding="utf-8")
    r = cli("channels", "welcome", "validate", f, ok=False)
    assert r.exit_code == 2
    assert f"{f}:8: rules[1].attachments[0].miniprogram.page: the mini-program page must end " \
           "in .html (WeCom)" in r.output
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("rules:\n  - name: [\n", encoding="utf-8")
    r = cli("channels", "welcome", "validate", bad_yaml, "--json", ok=False)
    import json

    got = json.loads(r.output)
    assert got["valid"] is False and got["problems"][0]["line"] == 3
    assert got["problems"][0]["reason"].startswith("not valid YAML")


def test_validate_and_match_commands_on_a_good_file(cli, ws, monkeypatch):
    monkeypatch.setenv("SIYU_LANG", "en")
    (ws.home / "welcome.yaml").write_text(RULES, encoding="utf-8")
    r = cli("channels", "welcome", "validate", "--home", ws.home)
    assert r.output.strip() == f"{ws.home / 'welcome.yaml'}: valid (2 rules, no default)"
    r = cli("channels", "welcome", "match", "--state", "store_qr", "--guide", "guide01",
            "--home", ws.home, "--json")
    import json

    assert json.loads(r.output) == {"rule": "store_qr", "payload": {
        "kind": "welcome", "rule": "store_qr", "text": STORE_TEXT, "attachments": [LINK]}}
    r = cli("channels", "welcome", "match", "--state", "x", "--home", ws.home, ok=False)
    assert r.exit_code == 1 and "no rule matches and no default" in r.output


def test_the_attachment_forms_of_send_welcome_msg():
    rules = parse_rules("""\
default:
  attachments:
    - image: {media_id: MEDIA_IMG}
    - {msgtype: image, image: {pic_url: "https://p.qpic.cn/x.png"}}
    - miniprogram: {title: 会员中心, pic_media_id: MEDIA_MP, appid: wx8bd8, page: /p/index.html}
    - video: {media_id: MEDIA_V}
    - file: {media_id: MEDIA_F}
""")
    assert rules.render(rules.default, "g", "B") == {"kind": "welcome", "rule": "default",
                                                     "attachments": [
        {"msgtype": "image", "image": {"media_id": "MEDIA_IMG"}},
        {"msgtype": "image", "image": {"pic_url": "https://p.qpic.cn/x.png"}},
        {"msgtype": "miniprogram", "miniprogram": {"title": "会员中心",
                                                   "pic_media_id": "MEDIA_MP",
                                                   "appid": "wx8bd8", "page": "/p/index.html"}},
        {"msgtype": "video", "video": {"media_id": "MEDIA_V"}},
        {"msgtype": "file", "file": {"media_id": "MEDIA_F"}}]}
    _, problems = validate_text("default:\n  attachments: [" + ", ".join(
        ["{video: {media_id: M}}"] * 10) + "]\n")
    assert [(p.line, p.path) for p in problems] == [(2, "default.attachments")]


KEYS = st.tuples(st.sampled_from(["s1", "s2", "store_qr", ""]),
                 st.sampled_from(["guide01", "guide09", "guide02"]))


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, 5), st.booleans()), min_size=1, max_size=14),
       st.lists(KEYS, min_size=6, max_size=6))
def test_each_add_event_with_a_code_and_a_rule_queues_one_row_whatever_the_redeliveries(
        wws, deliveries, keys):
    """Invariant: callbacks delivered any number of times, in any order → one welcome row per
    distinct event that carries a code and matches a rule (every customer distinct)."""
    with wws.ops.engine.begin() as c:
        for t in (outbox, channel_inbound, callback_nonces):
            c.execute(delete(t))
    rules = parse_rules(RULES)
    t0 = int(time.time())
    events = {}
    for i, (state, guide) in enumerate(keys):
        events[i] = {"Event": "change_external_contact", "ChangeType": "add_external_contact",
                     "UserID": guide, "ExternalUserID": f"wmP{i}", "CreateTime": str(t0 + i),
                     **({"State": state} if state else {}), **({"WelcomeCode": f"C{i}"}
                                                             if i % 3 else {})}
    sent = set()
    for i, _again in deliveries:
        store_event(wws, events[i])
        sent.add(i)
    expect = sorted(f"wmP{i}" for i in sent if events[i].get("WelcomeCode") and rules.match(
        events[i].get("State", ""), events[i]["UserID"]) is not None)
    assert sorted(r.recipient for r in queued(wws)) == expect


# -- latency: callback → fake WeCom receiving send_welcome_msg, over loopback ------------------

def test_latency_from_callback_to_send_welcome_msg_with_serve_and_dispatch(wws, wecom):
    """`siyu serve`'s callback router under uvicorn and a `siyu dispatch` subprocess (default
    --interval 2 s): the welcome arrives at the fake WeCom well inside the 20 s window."""
    write_settings(wws, **fake_settings(wecom=wecom))
    env = {**os.environ, "SIYU_HOME": str(wws.home)}
    took = []
    with served(app_for(wws)) as port:
        disp = subprocess.Popen([sys.executable, "-m", "siyu", "dispatch"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            time.sleep(3.0)  # the dispatcher is up and idle
            for i in range(5):
                wecom.welcome_codes[f"LAT{i}"] = False
                p, b = sealed(add_event(f"LAT{i}", ext=f"wmLAT{i}"))
                start = time.perf_counter()
                r = httpx.post(f"http://127.0.0.1:{port}{URL}", params=p, content=b.encode())
                assert r.text == "success"
                while len(wecom.welcomes) <= i and time.perf_counter() - start < 20:
                    time.sleep(0.002)
                took.append(time.perf_counter() - start)
                time.sleep(0.7)
        finally:
            disp.terminate()
            disp.wait(10)
    print(f"\ncallback → send_welcome_msg: {', '.join(f'{t * 1000:.0f}' for t in took)} ms")
    assert len(wecom.welcomes) == 5
    assert max(took) < 2.0, took  # the dispatcher wakes every dispatch_wake_seconds (0.2 s)


def test_consent_a_welcome_is_a_service_message_under_the_outbox_guard(wws, wecom):
    """Purpose `service`: a marketing opt-out does not stop it; a `service` revocation recorded
    in siyu does, when the row knows the consumer (callback-queued rows do not: see
    docs/channels.md, Consent)."""
    from siyu.activation.consent import record_change

    record_change(wws.ops, consumer_id="c1", purpose="marketing", channel="all", granted=False,
                  actor="test")
    record_change(wws.ops, consumer_id="c2", purpose="service", channel="wecom", granted=False,
                  actor="test")
    now = datetime.now(UTC)
    for i, cid in enumerate(["c1", "c2"]):
        wecom.welcome_codes[f"K{i}"] = False
        store_event(wws, {"Event": "change_external_contact", "UserID": "guide01",
                          "ChangeType": "add_external_contact", "ExternalUserID": f"wmK{i}",
                          "State": "store_qr", "WelcomeCode": f"K{i}",
                          "CreateTime": str(int(now.timestamp()) + i)})
        with wws.ops.engine.begin() as c:
            c.execute(outbox.update().where(outbox.c.recipient == f"wmK{i}").values(
                consumer_id=cid))
    got = drain(wws)
    assert (got.sent, got.dead) == (1, 1)
    assert [w["welcome_code"] for w in wecom.welcomes] == ["K0"]
    assert [(r.recipient, r.purpose, r.status, r.last_error) for r in rows(wws)] == [
        ("wmK0", "service", "sent", None),
        ("wmK1", "service", "dead", "suppressed: consent revoked (service)")]
