"""`siyu channels test`, `siyu outbox list|drain|retry`, `siyu dispatch --once` against the
fakes, with settings from siyu.toml as a user would write them."""

from __future__ import annotations

import json

from siyu.channels.fakes import Fault
from siyu.channels.outbox import enqueue
from tests.channels.conftest import fake_settings, write_settings


def test_channels_test_webhook_reports_each_step(ws, cli, webhook):
    write_settings(ws, **fake_settings(webhook=webhook))
    got = cli.json("channels", "test", "webhook", "--home", ws.home)
    assert got["ok"] is True
    assert [s["step"] for s in got["steps"]] == ["recipient", "url", "signing", "queued", "sent",
                                                 "receipts"]
    assert len(webhook.received) == 1 and webhook.bad_signatures == 0


def test_channels_test_wecom_and_sms_use_the_test_recipients(ws, cli, wecom, sms):
    write_settings(ws, **fake_settings(wecom=wecom, sms=sms),
                   channel_test_recipients={"wecom": "wmtest", "guide": "guide01",
                                            "sms": "13800138000"})
    got = cli.json("channels", "test", "wecom", "--home", ws.home)
    assert got["ok"] and wecom.tasks[0]["targets"] == ["wmtest"]
    assert [s["step"] for s in got["steps"]][:3] == ["recipient", "corp", "access token"]
    got = cli.json("channels", "test", "sms", "--template", "1234", "--param", "x",
                   "--home", ws.home)
    assert got["ok"] and sms.sent[0]["TemplateParamSet"] == ["x"]


def test_channels_test_failure_exits_1_with_the_reason(ws, cli, wecom):
    write_settings(ws, **{**fake_settings(wecom=wecom), "wecom_secret": "wrong"},
                   channel_test_recipients={"wecom": "wmtest"})
    r = cli("channels", "test", "wecom", "--home", ws.home, ok=False)
    assert r.exit_code == 1
    assert "errcode 40001" in r.output
    r = cli("channels", "test", "official_account", "--home", ws.home, ok=False)
    assert r.exit_code == 1 and "no test recipient" in r.output


def test_outbox_list_drain_and_retry(ws, cli, webhook):
    write_settings(ws, **fake_settings(webhook=webhook))
    webhook.add_faults("/hook", Fault(400))
    enqueue(ws, [{"idempotency_key": f"k{i}", "channel": "webhook", "payload": {"n": i}}
                 for i in range(3)])
    got = cli.json("outbox", "list", "--status", "pending", "--home", ws.home)
    assert got["counts"] == {"webhook": {"pending": 3}} and len(got["rows"]) == 3
    assert "recipient" not in got["rows"][0] and "payload" not in got["rows"][0]
    got = cli.json("dispatch", "--once", "--home", ws.home)
    assert (got["claimed"], got["sent"], got["dead"]) == (3, 2, 1)
    dead = cli.json("outbox", "list", "--status", "dead", "--home", ws.home)["rows"]
    assert [r["last_error"] for r in dead] == ["webhook: HTTP 400"]
    assert cli.json("outbox", "retry", str(dead[0]["id"]), "--home", ws.home) == {"requeued": 1}
    assert cli.json("outbox", "drain", "--home", ws.home)["sent"] == 1
    r = cli("outbox", "list", "--home", ws.home)
    assert "webhook: sent 3" in r.output


def test_bad_status_is_a_usage_error(ws, cli):
    r = cli("outbox", "list", "--status", "lost", "--home", ws.home, ok=False)
    assert r.exit_code == 2 and "unknown status 'lost'" in r.output


def test_settings_never_print_secrets(ws, cli, wecom):
    write_settings(ws, **fake_settings(wecom=wecom))
    r = cli("settings", "--home", ws.home)
    assert "corp-secret" not in r.output and "jWmYm7" not in r.output
    got = json.loads(cli("settings", "--json", "--home", ws.home).stdout)
    assert got["wecom_secret"] == "**********"


def test_channels_test_speaks_zh_cn_first_and_english_on_request(ws, cli, webhook, monkeypatch):
    write_settings(ws, **fake_settings(webhook=webhook))
    monkeypatch.setenv("SIYU_LANG", "zh")
    r = cli("channels", "test", "webhook", "--home", ws.home)
    assert "✔ 接收人: -" in r.output and "✔ 已入发送队列: outbox id 1" in r.output
    assert "✔ 签名: 开启" in r.output and "✔ 已发送: wh-test:webhook:" in r.output
    monkeypatch.setenv("SIYU_LANG", "en")
    r = cli("channels", "test", "webhook", "--home", ws.home)
    assert "✔ queued: outbox id 2" in r.output and "✔ signing: on" in r.output
    got = cli.json("channels", "test", "webhook", "--home", ws.home)
    assert [(s["step"], s["label"]) for s in got["steps"]][:2] == [
        ("recipient", "recipient"), ("url", "url")]


def test_channels_test_finds_its_row_among_many_newer_ones(ws, cli, webhook, monkeypatch):
    """The probe looks its message up by id, not among the latest rows (it used to pick it
    from the newest 20 and crash when more were queued meanwhile)."""
    from siyu.channels import probe as probe_mod

    write_settings(ws, **fake_settings(webhook=webhook))
    real = probe_mod.drain

    def busy_drain(w, **kw):  # other producers queue 30 rows while the probe sends
        enqueue(w, [{"idempotency_key": f"other{i}", "channel": "file", "payload": {}}
                    for i in range(30)])
        return real(w, **kw)

    monkeypatch.setattr(probe_mod, "drain", busy_drain)
    got = cli.json("channels", "test", "webhook", "--home", ws.home)
    assert got["ok"] is True and got["steps"][-2]["step"] == "sent"


def test_flush_loads_callback_events_and_resolves_new_customers(ws, cli):
    from siyu.channels.wecom.events import store_event

    store_event(ws, {"Event": "change_external_contact", "ChangeType": "add_external_contact",
                     "UserID": "guide01", "ExternalUserID": "wmFLUSH", "CreateTime": "1772330400"})
    ws.close()
    got = cli.json("channels", "flush", "--resolve", "--home", ws.home)
    assert (got["events"], got["imported"], got["loaded"]) == (1, 1, {"relationships": 1})
    assert got["oneid"]["new_consumers"] == 1 and got["oneid"]["consumers"] == 1
    got = cli.json("channels", "flush", "--resolve", "--home", ws.home)
    assert (got["events"], got["oneid"]) == (0, None)  # nothing new: no OneID run
