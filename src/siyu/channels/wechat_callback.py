"""The official account's server URL (公众号服务器配置), a FastAPI router the web app mounts at
``/callbacks/wechat``; it turns the template-message result event into delivery receipts.

- ``GET ?signature&timestamp&nonce&echostr`` — URL verification: ``signature`` =
  ``sha1(''.join(sorted([token, timestamp, nonce])))``; the ``echostr`` is answered as is;
- ``POST ?signature&timestamp&nonce[&openid]`` with the event XML — plaintext mode;
- ``POST ?signature&timestamp&nonce&encrypt_type=aes&msg_signature`` with
  ``<xml><ToUserName/><Encrypt/></xml>`` — safe mode (安全模式): ``msg_signature`` over the
  Encrypt value, AES-256-CBC as WeCom callbacks (:class:`~siyu.channels.wecom.crypto.
  CallbackCrypto`), the receive id being the AppID (``wechat_app_id``).

Both modes then check the timestamp window (``callback_window_seconds``) and the replay guard
(a timestamp + nonce pair is accepted once, ``callback_nonces`` with source ``wechat``).

The event ``TEMPLATESENDJOBFINISH`` (``MsgID``, ``Status``) becomes a receipt of the
``official_account`` outbox row whose provider_message_id is the MsgID: ``success`` →
``delivered``; ``failed:user block`` (the user refuses the account's messages) and
``failed: system failed`` → ``failed`` (detail ``wechat_status``). Other messages and events
are answered ``success`` and ignored. Rejections answer 400 / 403 / 409 / 503 like the WeCom
callback and are logged with the reason code only — never the body, openid or MsgID.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from siyu.channels.receipts import record_provider_receipts
from siyu.channels.wecom.callback import Rejected, _once, _state, _window
from siyu.channels.wecom.crypto import CallbackCrypto, CryptoError
from siyu.channels.wecom.events import MalformedEvent, parse_xml

__all__ = ["router", "signature", "STATUSES"]

log = logging.getLogger("siyu.channels.wechat")

router = APIRouter(tags=["callbacks"])

STATUSES = {"success": "delivered", "failed:user block": "failed",
            "failed: system failed": "failed"}
"""TEMPLATESENDJOBFINISH Status → receipt status (any other ``failed…`` → ``failed``)."""


def signature(token: str, timestamp: str, nonce: str) -> str:
    """The ``signature`` parameter of every request of the official account's server."""
    return hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()


def _token(ws) -> str:
    token = ws.settings.wechat_callback_token.get_secret_value()
    if not token:
        raise Rejected(503, "not_configured")
    return token


def _check(token: str, sig: str, timestamp: str, nonce: str) -> None:
    if not hmac.compare_digest(signature(token, timestamp, nonce), (sig or "").lower()):
        raise Rejected(403, "bad_signature")


def _crypto(ws, token: str) -> CallbackCrypto:
    key = ws.settings.wechat_encoding_aes_key.get_secret_value()
    if not key:
        raise Rejected(503, "not_configured")
    try:
        return CallbackCrypto(token, key, ws.settings.wechat_app_id)
    except CryptoError:
        raise Rejected(503, "bad_aes_key_setting") from None


def _fields(text: str, bad: str = "malformed_event") -> dict[str, str]:
    try:
        root = parse_xml(text)
    except MalformedEvent:
        raise Rejected(400, bad) from None
    f = {c.tag: (c.text or "").strip() for c in root}
    if not f.get("MsgType") or not f.get("CreateTime", "").isdigit():
        raise Rejected(400, "malformed_event")
    return f


def _receipt(f: dict[str, str]) -> dict | None:
    """The receipt of a TEMPLATESENDJOBFINISH event, None for any other message."""
    if f.get("MsgType") != "event" or f.get("Event") != "TEMPLATESENDJOBFINISH":
        return None
    msgid, status = f.get("MsgID") or f.get("MsgId") or "", f.get("Status", "")
    if not msgid.isdigit() or not status:
        raise Rejected(400, "malformed_event")
    st = STATUSES.get(status) or ("failed" if status.startswith("failed") else None)
    if st is None:
        raise Rejected(400, "unknown_status")
    return {"status": st, "provider_message_id": msgid,
            "at": datetime.fromtimestamp(int(f["CreateTime"]), UTC),
            "detail": {"wechat_status": status[:64]}}


def _reject(e: Rejected) -> PlainTextResponse:
    log.warning("wechat callback rejected: %s", e.code)
    return PlainTextResponse(e.code, status_code=e.status)


@router.get("", response_class=PlainTextResponse)
def verify_url(request: Request, signature: str = "", timestamp: str = "", nonce: str = "",
               echostr: str = ""):
    """URL verification (验证消息来自微信服务器): answers the echostr."""
    ws, _ = _state(request)
    try:
        token = _token(ws)
        if not (signature and timestamp and nonce and echostr):
            raise Rejected(400, "missing_parameter")
        _check(token, signature, timestamp, nonce)
        _window(ws, timestamp)
    except Rejected as e:
        return _reject(e)
    return PlainTextResponse(echostr)


@router.post("", response_class=PlainTextResponse)
async def receive(request: Request, signature: str = "", timestamp: str = "", nonce: str = "",
                  encrypt_type: str = "", msg_signature: str = ""):
    """A message or event pushed by WeChat, in plaintext or safe mode."""
    ws, _ = _state(request)
    body = await request.body()
    try:
        token = _token(ws)
        if not (timestamp and nonce):
            raise Rejected(400, "missing_parameter")
        if len(body) > 64 * 1024:
            raise Rejected(400, "body_too_large")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise Rejected(400, "malformed_body") from None
        if encrypt_type in ("", "raw"):
            if not signature:
                raise Rejected(400, "missing_parameter")
            _check(token, signature, timestamp, nonce)
            _window(ws, timestamp)
            _once(ws, timestamp, nonce, source="wechat")
            fields = _fields(text, "malformed_body")
        elif encrypt_type == "aes":
            cr = _crypto(ws, token)
            if not msg_signature:
                raise Rejected(400, "missing_parameter")
            if signature:  # WeChat sends both; a present one must hold too
                _check(token, signature, timestamp, nonce)
            try:
                enc = (parse_xml(text).findtext("Encrypt") or "").strip()
            except MalformedEvent:
                raise Rejected(400, "malformed_body") from None
            if not enc:
                raise Rejected(400, "no_encrypt")
            try:
                cr.check_signature(msg_signature, timestamp, nonce, enc)
            except CryptoError:
                raise Rejected(403, "bad_signature") from None
            _window(ws, timestamp)
            _once(ws, timestamp, nonce, source="wechat")
            try:
                plain = cr.open(msg_signature, timestamp, nonce, enc)
            except CryptoError as e:
                raise Rejected(403 if e.code == "bad_receive_id" else 400, e.code) from None
            fields = _fields(plain)
        else:
            raise Rejected(400, "bad_encrypt_type")
        rec = _receipt(fields)
    except Rejected as e:
        return _reject(e)
    if rec is None:
        log.info("wechat callback ignored: %s/%s", fields.get("MsgType", "")[:32],
                 fields.get("Event", "")[:32])
        return PlainTextResponse("success")
    got = record_provider_receipts(ws, "official_account", [rec])
    log.info("wechat callback accepted: TEMPLATESENDJOBFINISH %s",
             ", ".join(f"{k} {v}" for k, v in got.items()) or "already recorded")
    return PlainTextResponse("success")
