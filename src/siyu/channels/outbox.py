"""Service functions over the outbox for the CLI, the API and tests: enqueue, list, counts,
retry a dead letter, receipts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select, update

from siyu.channels.dispatcher import utc
from siyu.errors import UsageError
from siyu.i18n import tr
from siyu.ops.tables import channel_attempts, channel_receipts, outbox

__all__ = ["enqueue", "list_rows", "counts", "retry", "receipts", "STATUSES"]

STATUSES = ("pending", "sending", "sent", "failed", "dead")


def enqueue(ws, rows: list[dict[str, Any]], *, now: datetime | None = None,
            conn=None) -> list[int]:
    """Insert messages (``idempotency_key``, ``channel``, ``payload`` required; ``recipient``,
    ``consumer_id``, ``guide_id``, ``purpose``, ``source``, ``next_attempt_at`` optional).
    A key already in the outbox is skipped. Returns the ids of the new rows. With ``conn``
    the rows are written in the caller's transaction."""
    now = utc(now) or datetime.now(UTC)
    for i, r in enumerate(rows):
        for k in ("idempotency_key", "channel"):
            if not r.get(k) or not isinstance(r[k], str):
                raise UsageError(tr("第 {i} 条消息缺少 {k}", "message {i}: {k} is missing",
                                    i=i + 1, k=k))
        if not isinstance(r.get("payload"), dict):
            raise UsageError(tr("第 {i} 条消息的 payload 应为 JSON 对象",
                                "message {i}: payload must be a JSON object", i=i + 1))
    if conn is not None:
        return _insert(conn, rows, now)
    with ws.ops.engine.begin() as c:
        return _insert(c, rows, now)


def _insert(c, rows: list[dict[str, Any]], now: datetime) -> list[int]:
    keys = [r["idempotency_key"] for r in rows]
    have = set()
    for i in range(0, len(keys), 500):
        have |= {k for (k,) in c.execute(select(outbox.c.idempotency_key).where(
            outbox.c.idempotency_key.in_(keys[i:i + 500])))}
    new = []
    for r in rows:
        if r["idempotency_key"] in have:
            continue
        have.add(r["idempotency_key"])
        new.append({"consumer_id": None, "recipient": None, "guide_id": None,
                    "purpose": None, "source": "api", "enrolment_id": None, **r,
                    "status": "pending", "attempts": 0,
                    "next_attempt_at": utc(r.get("next_attempt_at")) or now,
                    "created_at": now})
    if not new:
        return []
    c.execute(insert(outbox), new)
    return [i for (i,) in c.execute(select(outbox.c.id).where(
        outbox.c.idempotency_key.in_([r["idempotency_key"] for r in new])))]


def list_rows(ws, status: str | None = None, channel: str | None = None,
              limit: int = 50) -> list[dict[str, Any]]:
    """The latest rows (newest first). Recipients and message text are left out."""
    if status is not None and status not in STATUSES:
        raise UsageError(tr("未知状态 {s}（可用：{k}）", "unknown status {s!r} (known: {k})",
                            s=status, k=", ".join(STATUSES)))
    cols = [outbox.c.id, outbox.c.idempotency_key, outbox.c.channel, outbox.c.consumer_id,
            outbox.c.status, outbox.c.attempts, outbox.c.next_attempt_at, outbox.c.last_error,
            outbox.c.provider_message_id, outbox.c.created_at, outbox.c.sent_at,
            outbox.c.read_at, outbox.c.source]
    q = select(*cols).order_by(outbox.c.id.desc()).limit(limit)
    if status:
        q = q.where(outbox.c.status == status)
    if channel:
        q = q.where(outbox.c.channel == channel)
    with ws.ops.engine.connect() as c:
        return [{k: (utc(v) if isinstance(v, datetime) else v) for k, v in r._mapping.items()}
                for r in c.execute(q)]


def counts(ws) -> dict[str, dict[str, int]]:
    """{channel: {status: n}}."""
    out: dict[str, dict[str, int]] = {}
    with ws.ops.engine.connect() as c:
        for ch, st, n in c.execute(select(outbox.c.channel, outbox.c.status, func.count())
                                   .group_by(outbox.c.channel, outbox.c.status)):
            out.setdefault(ch, {})[st] = n
    return out


def retry(ws, ids: list[int], *, now: datetime | None = None) -> int:
    """Put dead (or failed) messages back in the queue, due now, with a fresh attempt budget;
    an in-doubt earlier attempt is closed, so the message is sent again."""
    now = utc(now) or datetime.now(UTC)
    with ws.ops.engine.begin() as c:
        n = c.execute(update(outbox).where(outbox.c.id.in_(ids),
                                           outbox.c.status.in_(("dead", "failed")))
                      .values(status="pending", attempts=0, next_attempt_at=now,
                              last_error=None)).rowcount
        c.execute(update(channel_attempts).where(channel_attempts.c.outbox_id.in_(ids),
                                                 channel_attempts.c.finished_at.is_(None))
                  .values(finished_at=datetime.now(UTC), outcome="lost",
                          error="closed by retry"))
    return n


def receipts(ws, outbox_id: int) -> list[dict[str, Any]]:
    with ws.ops.engine.connect() as c:
        return [dict(r._mapping) for r in c.execute(
            select(channel_receipts).where(channel_receipts.c.outbox_id == outbox_id)
            .order_by(channel_receipts.c.id))]
