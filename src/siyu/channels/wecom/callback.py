"""The WeCom callback URL (接收事件服务器), a FastAPI router the web app mounts at
``/callbacks/wecom``.

- ``GET  ?msg_signature&timestamp&nonce&echostr`` — URL verification: the signature is checked
  and the decrypted ``echostr`` is answered as plain text;
- ``POST ?msg_signature&timestamp&nonce`` with ``<xml><ToUserName/><Encrypt/><AgentID/></xml>``
  — an encrypted event: signature, timestamp window (``callback_window_seconds``), AES
  decryption and the receive id (the corp id) are checked, then the event is stored
  (:mod:`.events`) together with its timestamp + nonce pair (``callback_nonces``: a pair is
  accepted once — the replay guard — in the same transaction, so a failure in between never
  spends the nonce of an event that was not kept) and ``success`` answered; loading into the
  warehouse follows in the background.

Rejections answer 400 (malformed), 403 (signature, window, receive id), 409 (replay) or 503
(not configured) and are logged with the reason code only — never the body or any id.

The workspace comes from ``app.state.siyu`` (the web app's server state, whose warehouse lock
the background load takes) or ``app.state.workspace``.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import PlainTextResponse
from sqlalchemy import delete, insert
from sqlalchemy.exc import IntegrityError

from siyu.channels.wecom.crypto import CallbackCrypto, CryptoError
from siyu.channels.wecom.events import (
    MalformedEvent,
    Replay,
    flush_inbound,
    parse_event,
    parse_xml,
    store_event,
)
from siyu.ops.tables import callback_nonces

__all__ = ["router", "Rejected"]

log = logging.getLogger("siyu.channels.wecom")

router = APIRouter(tags=["callbacks"])


class Rejected(Exception):
    def __init__(self, status: int, code: str):
        super().__init__(code)
        self.status, self.code = status, code


def _state(request: Request):
    """(workspace, server state or None)."""
    st = getattr(request.app.state, "siyu", None)
    if st is not None:
        return st.ws, st
    return request.app.state.workspace, None


def _crypto(ws) -> CallbackCrypto:
    s = ws.settings
    token, key = s.wecom_callback_token.get_secret_value(), \
        s.wecom_encoding_aes_key.get_secret_value()
    if not token or not key:
        raise Rejected(503, "not_configured")
    try:
        return CallbackCrypto(token, key, s.wecom_corp_id)
    except CryptoError:
        raise Rejected(503, "bad_aes_key_setting") from None


def _window(ws, timestamp: str) -> None:
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        raise Rejected(400, "bad_timestamp") from None
    if abs(time.time() - ts) > ws.settings.callback_window_seconds:
        raise Rejected(403, "stale_timestamp")


def _check_nonce(timestamp: str, nonce: str) -> None:
    if not nonce or len(nonce) > 64 or len(timestamp) > 16:
        raise Rejected(400, "bad_nonce")


def _prune_nonces(ws) -> None:
    keep = timedelta(seconds=2 * ws.settings.callback_window_seconds)
    with ws.ops.engine.begin() as c:
        c.execute(delete(callback_nonces).where(
            callback_nonces.c.received_at < datetime.now(UTC) - keep))


def _once(ws, timestamp: str, nonce: str, source: str = "wecom") -> None:
    """Record the timestamp + nonce pair; a pair seen before is a replay (409)."""
    _check_nonce(timestamp, nonce)
    _prune_nonces(ws)
    try:
        with ws.ops.engine.begin() as c:
            c.execute(insert(callback_nonces).values(source=source, timestamp=timestamp,
                                                     nonce=nonce, received_at=datetime.now(UTC)))
    except IntegrityError:
        raise Rejected(409, "replay") from None


def _reject(e: Rejected) -> PlainTextResponse:
    log.warning("wecom callback rejected: %s", e.code)
    return PlainTextResponse(e.code, status_code=e.status)


def _flush(ws, state) -> None:
    try:
        if state is not None:
            with state.warehouse() as w:
                flush_inbound(w)
            if hasattr(state, "data_changed"):
                state.data_changed()
        else:
            flush_inbound(ws)
    except Exception as e:  # events stay pending; the next flush loads them
        log.warning("wecom callbacks: background load failed (%s)", type(e).__name__)


@router.get("", response_class=PlainTextResponse)
def verify_url(request: Request, msg_signature: str = "", timestamp: str = "", nonce: str = "",
               echostr: str = ""):
    """URL verification (验证回调URL): answers the decrypted echostr."""
    ws, _ = _state(request)
    try:
        cr = _crypto(ws)
        if not (msg_signature and timestamp and nonce and echostr):
            raise Rejected(400, "missing_parameter")
        _window(ws, timestamp)
        try:
            plain = cr.open(msg_signature, timestamp, nonce, echostr)
        except CryptoError as e:
            raise Rejected(403 if e.code in ("bad_signature", "bad_receive_id") else 400,
                           e.code) from None
    except Rejected as e:
        return _reject(e)
    return PlainTextResponse(plain)


@router.post("", response_class=PlainTextResponse)
async def receive_event(request: Request, background: BackgroundTasks, msg_signature: str = "",
                        timestamp: str = "", nonce: str = ""):
    """An encrypted event (external contact or customer group change)."""
    ws, state = _state(request)
    body = await request.body()
    try:
        cr = _crypto(ws)
        if not (msg_signature and timestamp and nonce):
            raise Rejected(400, "missing_parameter")
        if len(body) > 64 * 1024:
            raise Rejected(400, "body_too_large")
        try:
            outer = parse_xml(body.decode("utf-8"))
        except (MalformedEvent, UnicodeDecodeError):
            raise Rejected(400, "malformed_body") from None
        enc = (outer.findtext("Encrypt") or "").strip()
        if not enc:
            raise Rejected(400, "no_encrypt")
        try:
            cr.check_signature(msg_signature, timestamp, nonce, enc)
        except CryptoError:
            raise Rejected(403, "bad_signature") from None
        _window(ws, timestamp)
        _check_nonce(timestamp, nonce)
        try:
            plain = cr.open(msg_signature, timestamp, nonce, enc)
            fields = parse_event(plain)
        except CryptoError as e:
            raise Rejected(403 if e.code == "bad_receive_id" else 400, e.code) from None
        except MalformedEvent:
            raise Rejected(400, "malformed_event") from None
        _prune_nonces(ws)
        try:  # the nonce is spent in the event's own transaction: nothing lost in between
            _, new = store_event(ws, fields, nonce=("wecom", timestamp, nonce))
        except Replay:
            raise Rejected(409, "replay") from None
        except Exception as e:  # the ops store failed: WeCom retries; the error names no ids
            log.error("wecom callback: storing the event failed (%s)", type(e).__name__)
            return PlainTextResponse("store_failed", status_code=500)
    except Rejected as e:
        return _reject(e)
    log.info("wecom callback accepted: %s/%s%s", fields.get("Event"),
             fields.get("ChangeType", ""), "" if new else " (already stored)")
    background.add_task(_flush, ws, state)
    return PlainTextResponse("success")
