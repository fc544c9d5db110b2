"""The ``sms`` channel over a small provider interface; the built-in provider is Tencent Cloud
SMS, API 3.0 ``SendSms`` (version 2021-01-11) signed with TC3-HMAC-SHA256, and its delivery
reports (短信下发状态) pulled with ``PullSmsSendStatus`` (:func:`siyu.channels.receipts.poll_sms`).

Payload: ``{"template_id": "…", "params": ["…", …]}``; ``recipient`` = the phone (mainland
11 digits or E.164). ``SessionContext`` carries the outbox idempotency key, so delivery
reports (status callbacks / PullSmsSendStatus) map back to the message. The SMS API has no
dedupe: a message whose earlier attempt is in doubt is dead-lettered, never texted twice.

Errors: ``InternalError.*``, ``RequestLimitExceeded`` and ``LimitExceeded.PhoneNumberThirty
SecondLimit`` retry (the last two pause the channel / wait); ``AuthFailure.*``,
``InvalidParameter*``, ``FailedOperation.*``, ``UnsupportedOperation.*`` and the daily /
hourly per-number limits are permanent.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar
from urllib.parse import urlsplit

from siyu.channels.base import (
    Channel,
    Message,
    Outcome,
    PermanentError,
    RateLimited,
    Sent,
    TransientError,
    register,
)
from siyu.channels.http import request_json
from siyu.channels.tc3 import signed_headers

__all__ = ["SmsProvider", "StatusReport", "TencentSms", "SmsChannel", "PROVIDERS", "e164"]

PROVIDERS: dict[str, type[SmsProvider]] = {}


def e164(phone: str) -> str:
    p = re.sub(r"[\s\-()]", "", phone or "")
    if re.fullmatch(r"1\d{10}", p):
        return "+86" + p
    if re.fullmatch(r"\+\d{6,15}", p):
        return p
    raise PermanentError("sms: recipient is not a phone number")


@dataclass(frozen=True)
class StatusReport:
    """One delivery report of the provider (no phone number: it is not needed to match)."""

    serial_no: str
    """The provider's message id (what ``send`` returned)."""
    context: str
    """The context sent with the message (the outbox idempotency key)."""
    delivered: bool
    at: datetime | None
    description: str
    """The carrier's code, e.g. ``DELIVRD``; a short status, never message text."""


class SmsProvider:
    """Send one text (return the provider's message id) and pull delivery reports; errors are
    ChannelErrors."""

    name: ClassVar[str] = ""

    def __init__(self, settings, http):
        self.settings, self.http = settings, http

    def send(self, phone: str, template_id: str, params: list[str], context: str) -> str:
        raise NotImplementedError  # pragma: no cover

    def pull_status(self, limit: int) -> list[StatusReport]:
        """Up to ``limit`` delivery reports not pulled before (a queue: each comes once)."""
        raise NotImplementedError  # pragma: no cover


def provider(cls):
    PROVIDERS[cls.name] = cls
    return cls


_TRANSIENT = ("InternalError", "RequestLimitExceeded", "LimitExceeded.PhoneNumberThirtySecond")


def _raise(code: str, message: str) -> None:
    msg = f"sms: {code} {message[:120]}".rstrip()
    if code == "RequestLimitExceeded":
        raise RateLimited(msg, 1.0)
    if code.startswith("LimitExceeded.PhoneNumberThirtySecond"):
        raise TransientError(msg, 30.0)
    if code.startswith(_TRANSIENT):
        raise TransientError(msg)
    raise PermanentError(msg)


@provider
class TencentSms(SmsProvider):
    name = "tencent"
    action, version, service = "SendSms", "2021-01-11", "sms"

    def _call(self, action: str, payload: dict) -> dict:
        """One signed API 3.0 call; the ``Response`` object, or a ChannelError."""
        s = self.settings
        sid, skey = s.sms_secret_id.get_secret_value(), s.sms_secret_key.get_secret_value()
        if not (sid and skey and s.sms_sdk_app_id):
            raise PermanentError("sms: sms_secret_id / sms_secret_key / sms_sdk_app_id not set")
        body = json.dumps({**payload, "SmsSdkAppId": s.sms_sdk_app_id},
                          ensure_ascii=False).encode()
        host = urlsplit(s.sms_endpoint).netloc
        headers = signed_headers(sid, skey, service=self.service, host=host, action=action,
                                 version=self.version, region=s.sms_region, body=body,
                                 timestamp=int(time.time()))
        got = request_json(self.http, "POST", s.sms_endpoint, content=body, headers=headers,
                           what=f"sms {action}")
        resp = got.get("Response") if isinstance(got, dict) else None
        if not isinstance(resp, dict):
            raise TransientError("sms: unexpected answer")
        if resp.get("Error"):
            _raise(str(resp["Error"].get("Code", "")), str(resp["Error"].get("Message", "")))
        return resp

    def send(self, phone: str, template_id: str, params: list[str], context: str) -> str:
        if not self.settings.sms_sign_name:
            raise PermanentError("sms: sms_sign_name not set")
        resp = self._call(self.action, {
            "PhoneNumberSet": [phone], "SignName": self.settings.sms_sign_name,
            "TemplateId": template_id, "TemplateParamSet": [str(p) for p in params],
            "SessionContext": context})
        status = (resp.get("SendStatusSet") or [{}])[0]
        if status.get("Code") != "Ok":
            _raise(str(status.get("Code", "")), str(status.get("Message", "")))
        return str(status.get("SerialNo") or resp.get("RequestId") or "")

    def pull_status(self, limit: int) -> list[StatusReport]:
        """``PullSmsSendStatus`` (Limit ≤ 100): ReportStatus ``SUCCESS`` / ``FAIL``."""
        resp = self._call("PullSmsSendStatus", {"Limit": max(1, min(int(limit), 100))})
        out = []
        for x in resp.get("PullSmsSendStatusSet") or []:
            if not isinstance(x, dict) or x.get("ReportStatus") not in ("SUCCESS", "FAIL"):
                continue  # not a report we can read: skipped, never guessed
            t = x.get("UserReceiveTime")
            at = datetime.fromtimestamp(int(t), UTC) if isinstance(t, int) and t > 0 else None
            out.append(StatusReport(str(x.get("SerialNo") or ""), str(x.get("SessionContext")
                                                                        or ""),
                                    x["ReportStatus"] == "SUCCESS", at,
                                    str(x.get("Description") or "")[:64]))
        return out


@register
class SmsChannel(Channel):
    name = "sms"

    def provider(self) -> SmsProvider:
        p = getattr(self, "_provider", None)
        if p is None:
            p = self._provider = PROVIDERS[self.settings.sms_provider](self.settings, self.http)
        return p

    def send(self, msg: Message) -> Outcome:
        t = msg.payload.get("template_id")
        if not t:
            raise PermanentError("sms: payload.template_id missing")
        params = msg.payload.get("params") or []
        if not isinstance(params, list):
            raise PermanentError("sms: payload.params must be a list")
        return Sent(self.provider().send(e164(msg.recipient or ""), str(t), params,
                                         msg.idempotency_key[:512]))

    def check(self):
        s = self.settings
        ok = bool(s.sms_secret_id.get_secret_value() and s.sms_secret_key.get_secret_value())
        if not ok:
            raise PermanentError("sms: sms_secret_id / sms_secret_key not set")
        return [("provider", s.sms_provider), ("endpoint", s.sms_endpoint)]
