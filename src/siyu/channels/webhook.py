"""The generic ``webhook`` channel: a signed JSON POST to the brand's own endpoint.

Request::

    POST <url>                         (payload.url, else the recipient if it is a URL,
    Content-Type: application/json      else the `webhook_url` setting)
    Idempotency-Key: <outbox idempotency key>     same on every retry: the receiver dedupes
    X-Siyu-Timestamp: <unix seconds>
    X-Siyu-Signature: sha256=<hex HMAC-SHA256(webhook_secret, "<timestamp>.<body>")>

    {"id", "idempotency_key", "channel", "consumer_id", "recipient", "guide_id", "purpose",
     "payload", "attempt"}

2xx = sent (a JSON answer's ``id`` becomes the provider message id; ``"status":
"delivered"`` or ``"read"`` is recorded as a receipt); 408, 425, 429, 5xx, timeouts = retried
(``Retry-After`` honoured); other 4xx = dead.

Batches (setting ``webhook_batch_size`` > 1): up to that many messages of one URL in one POST,
body ``{"messages": [<message as above>, …]}``, ``Idempotency-Key`` = ``batch:`` + a hash of
the messages' keys (each message still carries its own ``idempotency_key``). The answer may
list ``{"results": [{"idempotency_key", "ok": false, "error"}]}`` for messages it refuses
(dead); the others are sent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from siyu.channels.base import (
    Channel,
    Dead,
    Message,
    Outcome,
    PermanentError,
    Sent,
    outcome_of,
    register,
)
from siyu.channels.http import request_json
from siyu.channels.local import _record

__all__ = ["WebhookChannel", "sign", "verify"]


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str, *, window: int = 300,
           now: float | None = None) -> bool:
    """What a receiver checks: the signature, and a timestamp within ``window`` seconds."""
    try:
        age = abs((now or time.time()) - int(timestamp))
    except ValueError:
        return False
    return age <= window and hmac.compare_digest(sign(secret, timestamp, body), signature)


@register
class WebhookChannel(Channel):
    name = "webhook"
    idempotent = True  # the receiver dedupes on Idempotency-Key

    def url_for(self, msg: Message) -> str:
        url = msg.payload.get("url") or (
            msg.recipient if (msg.recipient or "").startswith(("http://", "https://"))
            else None) or self.settings.webhook_url
        if not url:
            raise PermanentError("webhook: no URL (payload.url, recipient or webhook_url)")
        return url

    def _headers(self, key: str, body: bytes) -> dict[str, str]:
        ts = str(int(time.time()))
        headers = {"Content-Type": "application/json", "Idempotency-Key": key,
                   "X-Siyu-Timestamp": ts}
        secret = self.settings.webhook_secret.get_secret_value()
        if secret:
            headers["X-Siyu-Signature"] = sign(secret, ts, body)
        return headers

    def send(self, msg: Message) -> Outcome:
        url = self.url_for(msg)
        body = json.dumps(_record(msg), ensure_ascii=False, default=str).encode()
        got = _json_or_empty(self.http, url, body, self._headers(msg.idempotency_key, body))
        status = got.get("status") if isinstance(got, dict) else None
        pid = str(got["id"]) if isinstance(got, dict) and got.get("id") is not None else None
        return Sent(pid, receipt=status if status in ("delivered", "read") else "sent")

    def send_many(self, msgs, pool=None, on_rate_limit=None):
        size = self.settings.webhook_batch_size
        if size <= 1:
            return super().send_many(msgs, pool, on_rate_limit)
        out: dict[int, Outcome] = {}
        by_url: dict[str, list[Message]] = {}
        for m in msgs:
            try:
                by_url.setdefault(self.url_for(m), []).append(m)
            except PermanentError as e:
                out[m.id] = outcome_of(e)
        batches = [(u, g[i:i + size]) for u, g in by_url.items()
                   for i in range(0, len(g), size)]

        def run(item):
            url, batch = item
            try:
                return self._send_batch(url, batch)
            except Exception as e:
                return [outcome_of(e)] * len(batch)

        results = list(pool.map(run, batches)) if pool is not None else [run(b) for b in batches]
        for (_, batch), res in zip(batches, results, strict=True):
            for m, o in zip(batch, res, strict=True):
                out[m.id] = o
        return [out[m.id] for m in msgs]

    def _send_batch(self, url: str, batch: list[Message]) -> list[Outcome]:
        body = json.dumps({"messages": [_record(m) for m in batch]}, ensure_ascii=False,
                          default=str).encode()
        key = "batch:" + hashlib.sha256("\n".join(m.idempotency_key for m in batch).encode()
                                        ).hexdigest()[:40]
        got = _json_or_empty(self.http, url, body, self._headers(key, body))
        refused = {r.get("idempotency_key"): str(r.get("error") or "refused")[:200]
                   for r in (got.get("results") or []) if isinstance(r, dict)
                   and r.get("ok") is False} if isinstance(got, dict) else {}
        return [Dead(f"webhook: refused: {refused[m.idempotency_key]}")
                if m.idempotency_key in refused else Sent(None) for m in batch]

    def check(self):
        from siyu.i18n import tr

        return [("url", tr("已设置 webhook_url", "webhook_url set") if self.settings.webhook_url
                 else tr("取自每条消息", "from each message")),
                ("signing", tr("开启", "on") if self.settings.webhook_secret.get_secret_value()
                 else tr("关闭（未设置 webhook_secret）", "off (no webhook_secret)"))]


def _json_or_empty(http, url: str, body: bytes, headers: dict):
    from siyu.channels.base import TransientError

    try:
        return request_json(http, "POST", url, what="webhook", content=body, headers=headers)
    except TransientError as e:
        if str(e).endswith("answer is not JSON"):
            return {}  # a 2xx without a JSON body is still a delivery
        raise
