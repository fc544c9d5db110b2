"""WeChat official account (公众号) template messages and mini-program (小程序) subscription
messages (api.weixin.qq.com).

- token: ``GET /cgi-bin/token?grant_type=client_credential&appid&secret``;
- ``official_account``: ``POST /cgi-bin/message/template/send`` with ``touser`` (openid =
  ``recipient``), ``template_id``, ``data`` ({key: {"value": …}}), optional ``url`` /
  ``miniprogram``, and ``client_msg_id`` — WeChat's own anti-duplicate id (one message per
  openid and id), set from the outbox idempotency key, so a resend after a crash is harmless;
- ``miniprogram``: ``POST /cgi-bin/message/subscribe/send`` with ``touser``, ``template_id``,
  ``page``, ``data``, ``miniprogram_state``, ``lang``. It has no dedupe key: an in-doubt
  message is dead-lettered rather than sent twice.

Payload: ``{"template_id": "…", "data": {"thing1": "…" or {"value": "…"}}, "url"?, "page"?}``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from siyu.channels.base import Channel, Message, Outcome, PermanentError, Sent, register
from siyu.channels.http import request_json
from siyu.channels.tokens import TokenClient

__all__ = ["OfficialAccountChannel", "MiniProgramChannel"]


def _data(payload: dict) -> dict:
    data = payload.get("data")
    if not isinstance(data, dict) or not data:
        raise PermanentError("template message: payload.data must be a non-empty object")
    return {k: (v if isinstance(v, dict) else {"value": str(v)}) for k, v in data.items()}


class _WeChatApp(Channel):
    app_id_setting = ""
    secret_setting = ""

    def client(self) -> TokenClient:
        c = getattr(self, "_client", None)
        if c is None:
            s = self.settings
            appid = getattr(s, self.app_id_setting)
            secret = getattr(s, self.secret_setting).get_secret_value()
            base = s.wechat_base_url.rstrip("/")

            def fetch() -> dict[str, Any]:
                if not appid or not secret:
                    raise PermanentError(f"{self.name}: {self.app_id_setting} / "
                                         f"{self.secret_setting} not set")
                return request_json(self.http, "GET", f"{base}/cgi-bin/token",
                                    params={"grant_type": "client_credential", "appid": appid,
                                            "secret": secret}, what=f"{self.name} token")

            c = self._client = TokenClient(self.ws, self.http, f"{self.name}:{appid}", base,
                                           fetch)
        return c

    def check(self):
        self.client().token(force=True)
        return [("app id", getattr(self.settings, self.app_id_setting)),
                ("access token", "ok")]

    def _template(self, msg: Message) -> str:
        t = msg.payload.get("template_id")
        if not t:
            raise PermanentError(f"{self.name}: payload.template_id missing")
        if not msg.recipient:
            raise PermanentError(f"{self.name}: no recipient openid")
        return str(t)


@register
class OfficialAccountChannel(_WeChatApp):
    name = "official_account"
    idempotent = True  # client_msg_id
    app_id_setting = "wechat_app_id"
    secret_setting = "wechat_app_secret"

    def send(self, msg: Message) -> Outcome:
        body = {"touser": msg.recipient, "template_id": self._template(msg),
                "data": _data(msg.payload),
                "client_msg_id": hashlib.sha1(msg.idempotency_key.encode()).hexdigest()}
        for k in ("url", "miniprogram"):
            if msg.payload.get(k):
                body[k] = msg.payload[k]
        got = self.client().call("/cgi-bin/message/template/send", body,
                                 what="official_account template/send")
        mid = got.get("msgid")
        return Sent(str(mid) if mid is not None else None)


@register
class MiniProgramChannel(_WeChatApp):
    name = "miniprogram"
    app_id_setting = "miniprogram_app_id"
    secret_setting = "miniprogram_app_secret"

    def send(self, msg: Message) -> Outcome:
        body = {"touser": msg.recipient, "template_id": self._template(msg),
                "data": _data(msg.payload), "miniprogram_state": self.settings.miniprogram_state,
                "lang": msg.payload.get("lang", "zh_CN")}
        if msg.payload.get("page"):
            body["page"] = msg.payload["page"]
        self.client().call("/cgi-bin/message/subscribe/send", body,
                           what="miniprogram subscribe/send")
        return Sent(None)
