"""Fixtures of the channel tests: a workspace wired to local fake servers (real HTTP on
loopback, started here)."""

from __future__ import annotations

import json

import pytest
from pydantic import SecretStr

from siyu.channels.fakes import FakeTencentSms, FakeWebhook, FakeWeChat, FakeWeCom
from siyu.config import Settings

AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"  # 43 characters, as WeCom issues
CB_TOKEN = "QDG6eK"
CORP = "wwfakecorp"


def configure(ws, **kw) -> None:
    """Set settings on an open workspace (secret fields wrapped as SecretStr)."""
    for k, v in kw.items():
        if Settings.model_fields[k].annotation is SecretStr:
            v = SecretStr(v)
        setattr(ws.settings, k, v)


def toml_value(v) -> str:
    return json.dumps(v) if not isinstance(v, dict) else "{ " + ", ".join(
        f"{k} = {json.dumps(x)}" for k, x in v.items()) + " }"


def write_settings(ws, **kw) -> None:
    """Append settings to the workspace's siyu.toml (for CLI and subprocess tests)."""
    with ws.settings_path.open("a", encoding="utf-8") as fh:
        for k, v in kw.items():
            fh.write(f"{k} = {toml_value(v)}\n")


@pytest.fixture
def wecom():
    with FakeWeCom(corp_id=CORP, secret="corp-secret") as f:
        yield f


@pytest.fixture
def wechat():
    with FakeWeChat({"wxoa": "oa-secret", "wxmp": "mp-secret"}) as f:
        yield f


@pytest.fixture
def sms():
    with FakeTencentSms("AKIDtest", "sms-key", "1400000001") as f:
        yield f


@pytest.fixture
def webhook():
    with FakeWebhook("hook-secret") as f:
        yield f


def fake_settings(wecom=None, wechat=None, sms=None, webhook=None) -> dict:
    s: dict = {"channel_timeout_seconds": 0.5, "dispatch_backoff_seconds": 1.0,
               "dispatch_backoff_max_seconds": 8.0}
    if wecom is not None:
        s.update(wecom_corp_id=CORP, wecom_secret="corp-secret", wecom_base_url=wecom.url,
                 wecom_callback_token=CB_TOKEN, wecom_encoding_aes_key=AES_KEY)
    if wechat is not None:
        s.update(wechat_app_id="wxoa", wechat_app_secret="oa-secret", miniprogram_app_id="wxmp",
                 miniprogram_app_secret="mp-secret", wechat_base_url=wechat.url)
    if sms is not None:
        s.update(sms_secret_id="AKIDtest", sms_secret_key="sms-key", sms_sdk_app_id="1400000001",
                 sms_sign_name="测试品牌", sms_endpoint=sms.url + "/")
    if webhook is not None:
        s.update(webhook_url=webhook.url + "/hook", webhook_secret="hook-secret")
    return s


@pytest.fixture
def wired(ws, wecom, wechat, sms, webhook):
    """The workspace with every channel pointed at its fake."""
    configure(ws, **fake_settings(wecom, wechat, sms, webhook))
    return ws
