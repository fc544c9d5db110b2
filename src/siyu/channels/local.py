"""Channels that deliver inside the machine: ``file`` (JSON lines a brand's own system picks
up) and ``console`` (stderr; for trying journeys out)."""

from __future__ import annotations

import json
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

from siyu.channels.base import Channel, Message, Outcome, Sent, register

__all__ = ["FileChannel", "ConsoleChannel"]

_file_lock = threading.Lock()


def _record(m: Message) -> dict:
    return {"id": m.id, "idempotency_key": m.idempotency_key, "channel": m.channel,
            "consumer_id": m.consumer_id, "recipient": m.recipient, "guide_id": m.guide_id,
            "purpose": m.purpose, "payload": m.payload, "attempt": m.attempt}


@register
class FileChannel(Channel):
    """Appends one JSON object per message to ``<workspace>/<outbox_dir>/YYYY-MM-DD.jsonl``
    (UTC day). Each line carries the idempotency key: a reader that keeps the keys it has
    seen is exactly-once even when a killed dispatcher wrote a line twice."""

    name = "file"
    default_concurrency = 1
    idempotent = True
    uses_http = False

    def folder(self) -> Path:
        p = Path(self.settings.outbox_dir)
        return p if p.is_absolute() else self.ws.home / p

    def send(self, msg: Message) -> Outcome:
        return self.send_many([msg])[0]

    def send_many(self, msgs, pool=None, on_rate_limit=None) -> list[Outcome]:
        folder = self.folder()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{datetime.now(UTC):%Y-%m-%d}.jsonl"
        text = "".join(json.dumps(_record(m), ensure_ascii=False, default=str) + "\n"
                       for m in msgs)
        with _file_lock, open(path, "a", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
        return [Sent(f"{path.name}#{m.id}") for m in msgs]

    def check(self):
        f = self.folder()
        f.mkdir(parents=True, exist_ok=True)
        return [("folder", str(f))]


@register
class ConsoleChannel(Channel):
    """Prints each message (one JSON line) on stderr."""

    name = "console"
    default_concurrency = 1
    idempotent = True
    uses_http = False

    def send(self, msg: Message) -> Outcome:
        sys.stderr.write(json.dumps(_record(msg), ensure_ascii=False, default=str) + "\n")
        return Sent(None)
