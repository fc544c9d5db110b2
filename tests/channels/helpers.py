from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import select

from siyu.channels.outbox import enqueue
from siyu.ops.tables import channel_attempts, outbox

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def put(ws, channel: str, n: int = 1, *, prefix: str = "m", now=T0, **kw) -> list[int]:
    rows = []
    for i in range(n):
        r = {"idempotency_key": f"{prefix}{i}", "channel": channel,
             "payload": kw.get("payload", {"text": "您的专属福利即将过期，是否查看？"}),
             "recipient": kw.get("recipient", f"wmcustomer{i}"),
             "guide_id": kw.get("guide_id", "guide01"), "purpose": "service",
             "source": "test"}
        rows.append(r)
    return enqueue(ws, rows, now=now)


def rows(ws) -> list:
    with ws.ops.engine.connect() as c:
        return c.execute(select(outbox).order_by(outbox.c.id)).all()


def statuses(ws) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in rows(ws):
        out[r.status] = out.get(r.status, 0) + 1
    return out


def attempts(ws) -> list:
    with ws.ops.engine.connect() as c:
        return c.execute(select(channel_attempts).order_by(channel_attempts.c.id)).all()


@contextmanager
def served(app):
    """``app`` served by uvicorn on a loopback port (yields the port)."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0,
                                           log_level="warning", lifespan="off"))
    th = threading.Thread(target=server.run, daemon=True)
    th.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.02)
    try:
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        th.join(5)
