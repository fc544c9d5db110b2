"""Official account template messages, mini-program subscription messages and Tencent Cloud
SMS against their fakes."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from siyu.channels.base import PermanentError
from siyu.channels.dispatcher import claim, drain
from siyu.channels.fakes import Fault
from siyu.channels.outbox import enqueue
from siyu.channels.sms import e164
from siyu.channels.tc3 import authorization, canonical_request, string_to_sign
from tests.channels.conftest import configure, fake_settings
from tests.channels.helpers import T0, rows

TPL = {"template_id": "TPL1", "data": {"thing1": "会员日", "time2": {"value": "3月8日"}},
       "url": "https://example.com/a"}


def _put(ws, channel, key, recipient, payload):
    enqueue(ws, [{"idempotency_key": key, "channel": channel, "recipient": recipient,
                  "payload": payload}], now=T0)


def test_official_account_template_message(ws, wechat):
    configure(ws, **fake_settings(wechat=wechat))
    _put(ws, "official_account", "oa1", "openid-1", TPL)
    assert drain(ws, now=T0).sent == 1
    b = wechat.templates[0]
    assert b["touser"] == "openid-1" and b["template_id"] == "TPL1"
    assert b["data"] == {"thing1": {"value": "会员日"}, "time2": {"value": "3月8日"}}
    assert b["client_msg_id"] == hashlib.sha1(b"oa1").hexdigest()
    assert rows(ws)[0].provider_message_id == "1000"


def test_official_account_resend_in_doubt_is_deduplicated_by_client_msg_id(ws, wechat):
    configure(ws, **fake_settings(wechat=wechat))
    wechat.add_faults("/cgi-bin/message/template/send", Fault.lost_answer(0.8))
    _put(ws, "official_account", "oa1", "openid-1", TPL)
    assert drain(ws, now=T0).retried == 1
    got = drain(ws, now=T0.replace(hour=12))
    assert (got.in_doubt, got.sent) == (1, 1)
    assert len(wechat.templates) == 1  # WeChat kept one: same openid and client_msg_id


def test_miniprogram_subscription_message_and_refusal(ws, wechat):
    configure(ws, **fake_settings(wechat=wechat))
    wechat.refused.add("openid-refused")
    _put(ws, "miniprogram", "mp1", "openid-1", {**TPL, "page": "pages/index"})
    _put(ws, "miniprogram", "mp2", "openid-refused", TPL)
    got = drain(ws, now=T0)
    assert (got.sent, got.dead) == (1, 1)
    s = wechat.subscribes[0]
    assert (s["page"], s["miniprogram_state"], s["lang"]) == ("pages/index", "formal", "zh_CN")
    assert "errcode 43101" in rows(ws)[1].last_error


def test_template_without_data_is_dead(ws, wechat):
    configure(ws, **fake_settings(wechat=wechat))
    _put(ws, "official_account", "oa1", "openid-1", {"template_id": "T"})
    assert drain(ws, now=T0).dead == 1
    assert "payload.data" in rows(ws)[0].last_error


def test_tc3_signature_built_step_by_step():
    """siyu's own signed headers (``x-tc-action`` too, as the current SDKs sign): the steps
    of 签名方法 v3 written out here by hand must give the same Authorization."""
    body = b'{"PhoneNumberSet":["+8613800138000"]}'
    ts = 1551113065  # 2019-02-25 16:44:25 UTC
    creq = ("POST\n/\n\ncontent-type:application/json; charset=utf-8\nhost:sms.tencentcloudapi.com\n"
            "x-tc-action:sendsms\n\ncontent-type;host;x-tc-action\n"
            + hashlib.sha256(body).hexdigest())
    assert canonical_request("sms.tencentcloudapi.com", "SendSms", body) == creq
    sts = "TC3-HMAC-SHA256\n1551113065\n2019-02-25/sms/tc3_request\n" + hashlib.sha256(
        creq.encode()).hexdigest()

    def h(k, m):
        return hmac.new(k, m.encode(), hashlib.sha256).digest()

    key = h(h(h(b"TC3secret", "2019-02-25"), "sms"), "tc3_request")
    sig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
    assert authorization("AKIDx", "secret", service="sms", host="sms.tencentcloudapi.com",
                         action="SendSms", body=body, timestamp=ts) == (
        "TC3-HMAC-SHA256 Credential=AKIDx/2019-02-25/sms/tc3_request, "
        f"SignedHeaders=content-type;host;x-tc-action, Signature={sig}")


def test_tc3_signature_of_the_public_example():
    """The worked example of Tencent Cloud's 签名方法 v3 page (CVM DescribeInstances,
    SecretKey ``Gu5t9xGARNpq86cd98joQYCN3EXAMPLE``, timestamp 1551113065, signed headers
    ``content-type;host``): every intermediate value and the final Authorization as
    published."""
    body = (b'{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], '
            b'"Name": "instance-name"}]}')
    assert hashlib.sha256(body).hexdigest() == (
        "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064")
    creq = canonical_request("cvm.tencentcloudapi.com", "DescribeInstances", body,
                             "content-type;host")
    assert creq == ("POST\n/\n\ncontent-type:application/json; charset=utf-8\n"
                    "host:cvm.tencentcloudapi.com\n\ncontent-type;host\n"
                    "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064")
    assert string_to_sign(1551113065, "cvm", creq) == (
        "TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n"
        "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031")
    assert authorization("AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
                         "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE", service="cvm",
                         host="cvm.tencentcloudapi.com", action="DescribeInstances", body=body,
                         timestamp=1551113065, signed="content-type;host") == (
        "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/"
        "tc3_request, SignedHeaders=content-type;host, "
        "Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168")
    with pytest.raises(ValueError):
        canonical_request("h", "A", b"", "host;content-type")


def test_sms_sendsms_is_signed_and_carries_the_session_context(ws, sms):
    configure(ws, **fake_settings(sms=sms))
    _put(ws, "sms", "s1", "138-0013-8000", {"template_id": "1234", "params": ["张", "3"]})
    assert drain(ws, now=T0).sent == 1
    assert sms.bad_signatures == 0
    got = sms.sent[0]
    assert (got["phone"], got["TemplateId"], got["TemplateParamSet"], got["SessionContext"],
            got["SignName"]) == ("+8613800138000", "1234", ["张", "3"], "s1", "测试品牌")
    assert rows(ws)[0].provider_message_id == "2028:00000001"


def test_sms_wrong_key_fails_signature_and_is_dead(ws, sms):
    configure(ws, **{**fake_settings(sms=sms), "sms_secret_key": "wrong"})
    _put(ws, "sms", "s1", "13800138000", {"template_id": "1", "params": []})
    assert drain(ws, now=T0).dead == 1
    assert sms.bad_signatures == 1
    assert "AuthFailure.SignatureFailure" in rows(ws)[0].last_error


@pytest.mark.parametrize("code,result", [
    ("InternalError.Timeout", "retried"), ("RequestLimitExceeded", "retried"),
    ("LimitExceeded.PhoneNumberDailyLimit", "dead"),
    ("InvalidParameterValue.IncorrectPhoneNumber", "dead")])
def test_sms_error_codes(ws, sms, code, result):
    configure(ws, **fake_settings(sms=sms))
    sms.add_faults("/", Fault.code({"Response": {"Error": {"Code": code, "Message": "x"},
                                                 "RequestId": "r"}}))
    _put(ws, "sms", "s1", "13800138000", {"template_id": "1", "params": []})
    assert getattr(drain(ws, now=T0), result) == 1


def test_sms_timeout_is_in_doubt_and_never_texted_twice(ws, sms):
    configure(ws, **fake_settings(sms=sms))
    sms.add_faults("/", Fault.lost_answer(0.8))
    _put(ws, "sms", "s1", "13800138000", {"template_id": "1", "params": []})
    assert drain(ws, now=T0).retried == 1
    got = drain(ws, now=T0.replace(hour=12))
    assert (got.in_doubt, got.dead) == (1, 1)
    assert len(sms.sent) == 1
    assert claim(ws, T0.replace(hour=13), 5) == []


def test_phone_normalisation():
    assert e164("+86 138 0013 8000") == "+8613800138000"
    assert e164("13800138000") == "+8613800138000"
    with pytest.raises(PermanentError):
        e164("12345")
