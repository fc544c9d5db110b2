"""A webhook receiver that checks the siyu signature and dedupes on ``Idempotency-Key``."""

from __future__ import annotations

from collections import Counter

from siyu.channels.fakes.server import FakeServer, Request

__all__ = ["FakeWebhook"]


class FakeWebhook(FakeServer):
    def __init__(self, secret: str = ""):
        super().__init__()
        self.secret = secret
        self.received: Counter[str] = Counter()  # idempotency key → deliveries accepted
        self.bad_signatures = 0
        self.batches = 0
        self.refuse: set[str] = set()  # keys refused inside a batch
        self.answer_status: dict[str, str] = {}  # key → "delivered" / "read" in the answer

    def handle(self, req: Request):
        from siyu.channels.webhook import verify

        if self.secret and not verify(self.secret, req.headers.get("x-siyu-timestamp", ""),
                                      req.body, req.headers.get("x-siyu-signature", "")):
            self.bad_signatures += 1
            return 401, {"error": "bad signature"}, {}
        body = req.json()
        if isinstance(body, dict) and isinstance(body.get("messages"), list):
            results = []
            for m in body["messages"]:
                k = m.get("idempotency_key", "")
                if k in self.refuse:
                    results.append({"idempotency_key": k, "ok": False, "error": "refused"})
                    continue
                self.received[k] += 1
                results.append({"idempotency_key": k, "ok": True})
            self.batches += 1
            return 200, {"results": results}, {}
        key = req.headers.get("idempotency-key", "")
        first = key not in self.received
        self.received[key] += 1
        out = {"id": f"wh-{key}", "duplicate": not first}
        if key in self.answer_status:
            out["status"] = self.answer_status[key]
        return 200, out, {}

    @property
    def unique(self) -> int:
        return len(self.received)
