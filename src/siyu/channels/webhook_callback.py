"""Receipts reported back by a webhook receiver, a FastAPI router the web app mounts at
``/callbacks/webhook``: how a brand's own system says a message was later delivered, read or
failed (the ``webhook`` channel's answer can only say what was known at send time).

Request — signed like siyu's own webhook calls, with the same ``webhook_secret``::

    POST /callbacks/webhook
    Content-Type: application/json
    X-Siyu-Timestamp: <unix seconds>
    X-Siyu-Signature: sha256=<hex HMAC-SHA256(webhook_secret, "<timestamp>.<body>")>

    {"receipts": [{"idempotency_key": "…" | "id": "<provider id siyu got>",
                   "status": "delivered" | "read" | "failed",
                   "at": <unix seconds>?, "detail": {…}?}, …]}     (at most 1000)

Answer ``200 {"recorded": {status: n}, "unmatched": n, "rejected": [{"index", "error"}]}``:
each valid receipt is recorded (once per message and status; ``read`` also sets
``outbox.read_at``) even when a neighbour is refused. A whole request is refused with 400
(not JSON, no ``receipts`` list, too many), 403 (signature or timestamp outside
``callback_window_seconds``) or 503 (no ``webhook_secret``), logged with the reason code only.
A replayed request records nothing new (receipts are kept once).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from siyu.channels.receipts import record_provider_receipts
from siyu.channels.webhook import verify
from siyu.channels.wecom.callback import Rejected, _state

__all__ = ["router", "MAX_RECEIPTS"]

log = logging.getLogger("siyu.channels.webhook")

router = APIRouter(tags=["callbacks"])

MAX_RECEIPTS = 1000
STATUSES = ("delivered", "read", "failed")


def _report(i: int, x: Any) -> tuple[dict | None, str | None]:
    """(the report of item ``i``, or None and why it is refused)."""
    if not isinstance(x, dict):
        return None, "not an object"
    key, pid = x.get("idempotency_key"), x.get("id")
    if not (isinstance(key, str) and key) and not (isinstance(pid, str | int) and str(pid)):
        return None, "idempotency_key or id is required"
    if x.get("status") not in STATUSES:
        return None, f"status must be one of {', '.join(STATUSES)}"
    at = x.get("at")
    if at is not None:
        if isinstance(at, bool) or not isinstance(at, int | float) or not 0 < at < 2**33:
            return None, "at must be unix seconds"
        at = datetime.fromtimestamp(at, UTC)
    detail = x.get("detail") or {}
    if not isinstance(detail, dict) or len(json.dumps(detail, default=str)) > 500:
        return None, "detail must be an object of at most 500 characters"
    return {"status": x["status"], "idempotency_key": key if isinstance(key, str) else None,
            "provider_message_id": str(pid) if pid not in (None, "") else None, "at": at,
            "detail": detail}, None


@router.post("")
async def receive_receipts(request: Request):
    """Delivery / read / failure receipts of webhook messages, signed with webhook_secret."""
    ws, _ = _state(request)
    body = await request.body()
    try:
        secret = ws.settings.webhook_secret.get_secret_value()
        if not secret:
            raise Rejected(503, "not_configured")
        ts = request.headers.get("x-siyu-timestamp", "")
        if not verify(secret, ts, body, request.headers.get("x-siyu-signature", ""),
                      window=ws.settings.callback_window_seconds):
            raise Rejected(403, "bad_signature")
        try:
            got = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise Rejected(400, "malformed_body") from None
        items = got.get("receipts") if isinstance(got, dict) else None
        if not isinstance(items, list):
            raise Rejected(400, "no_receipts")
        if len(items) > MAX_RECEIPTS:
            raise Rejected(400, "too_many_receipts")
    except Rejected as e:
        log.warning("webhook receipts rejected: %s", e.code)
        return JSONResponse({"code": e.code}, status_code=e.status)
    reports, rejected = [], []
    for i, x in enumerate(items):
        rep, why = _report(i, x)
        if rep is None:
            rejected.append({"index": i, "error": why})
        else:
            reports.append(rep)
    counts = record_provider_receipts(ws, "webhook", reports) if reports else {}
    unmatched = counts.pop("unmatched", 0)
    log.info("webhook receipts: %d recorded, %d unmatched, %d rejected",
             sum(counts.values()), unmatched, len(rejected))
    return {"recorded": counts, "unmatched": unmatched, "rejected": rejected}
