"""The outbox dispatcher: claim due rows, hand them to their channels, write the outcomes.

Status flow of an outbox row (``siyu.ops.tables.outbox``)::

    pending ─claim─▶ sending ─▶ sent                 (receipt `sent`, `delivered` later)
                        │    ─▶ failed ─(next_attempt_at)─▶ sending …   (transient error)
                        │    ─▶ dead                 (permanent error, or attempts used up)
                        └─ dispatcher died: lease expires ─▶ claimed again, *in doubt*

Claiming is one ``UPDATE … WHERE id IN (SELECT … LIMIT n) RETURNING`` (with ``FOR UPDATE SKIP
LOCKED`` on PostgreSQL), which sets ``status = 'sending'``, adds one to ``attempts`` and moves
``next_attempt_at`` to the end of the lease: a row claimed by a dispatcher that dies is claimed
again when the lease ends. ``attempts`` is the fencing token: an outcome is written only while
the row still holds the attempt that was sent (a late answer of a dead worker changes nothing).
The attempt log (``channel_attempts``) marks attempts in flight; an unfinished attempt found at
claim time (the dispatcher died) or one whose request reached the provider without an answer
(outcome ``unknown``: read timeout, dropped connection) makes the message *in doubt*, which each channel resolves (WeCom: look the task up
at the provider; webhook and official account: the provider deduplicates on the key siyu
sends; others: dead-lettered rather than risk a second delivery).
"""

from __future__ import annotations

import logging
import os
import random
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, bindparam, insert, select, update

from siyu.channels.base import (
    Channel,
    Dead,
    Deferred,
    Message,
    Outcome,
    Retry,
    Sent,
    get_channel_class,
    send_guards,
)
from siyu.ops.tables import channel_attempts, channel_receipts, channel_state, outbox

__all__ = ["drain", "DrainResult", "claim", "urgent_due", "backoff_seconds", "utc",
           "worker_name"]

log = logging.getLogger("siyu.channels")

CLAIMABLE = ("pending", "failed", "sending")
URGENT_SOURCE = "welcome:"
"""Outbox rows whose ``source`` starts with this (welcome messages: their WelcomeCode lives
20 s) are claimed before any other due row."""
URGENT_WINDOW = timedelta(seconds=60)
URGENT_EVERY = 0.2
"""Seconds between two looks for welcome rows within one drain (a batch in between)."""


def utc(t: datetime | None) -> datetime | None:
    """``t`` as an aware UTC instant (SQLite hands back naive UTC values)."""
    if t is None:
        return None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def worker_name() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}"


def backoff_seconds(attempt: int, base: float, cap: float, after: float | None = None,
                    rng: random.Random | None = None) -> float:
    """Delay before attempt ``attempt + 1``: ``base · 2^(attempt−1)`` capped at ``cap``, times
    a jitter in [0.5, 1); never less than the provider's ``after`` (Retry-After)."""
    r = (rng or random).uniform(0.5, 1.0)
    delay = min(cap, base * 2 ** max(attempt - 1, 0)) * r
    return max(delay, after or 0.0)


@dataclass
class DrainResult:
    """What one :func:`drain` did."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0
    dead: int = 0
    deferred: int = 0
    in_doubt: int = 0
    seconds: float = 0.0
    by_channel: dict[str, dict[str, int]] = field(default_factory=dict)

    def count(self, channel: str, what: str) -> None:
        setattr(self, what, getattr(self, what) + 1)
        c = self.by_channel.setdefault(channel, {})
        c[what] = c.get(what, 0) + 1

    def as_json(self) -> dict:
        return {"claimed": self.claimed, "sent": self.sent, "retried": self.retried,
                "dead": self.dead, "deferred": self.deferred, "in_doubt": self.in_doubt,
                "seconds": round(self.seconds, 3), "by_channel": self.by_channel}


def _paused(conn, now: datetime) -> list[str]:
    return [r[0] for r in conn.execute(
        select(channel_state.c.channel).where(channel_state.c.paused_until > now))]


def _urgent(now: datetime):
    """Welcome rows due in the last minute: a narrow range of the due index, so finding them
    first costs little even behind a large backlog (an older one is past its 20 s anyway and
    goes with the rest)."""
    return and_(outbox.c.status.in_(CLAIMABLE), outbox.c.next_attempt_at <= now,
                outbox.c.next_attempt_at >= now - URGENT_WINDOW,
                outbox.c.source.like(f"{URGENT_SOURCE}%"))


def urgent_due(ws, now: datetime | None = None) -> bool:
    """Whether a welcome row waits (`siyu dispatch` asks this between idle passes)."""
    now = utc(now) or datetime.now(UTC)
    with ws.ops.engine.connect() as c:
        return c.execute(select(outbox.c.id).where(_urgent(now)).limit(1)).first() is not None


def claim(ws, now: datetime, n: int, *, worker: str | None = None,
          channels: list[str] | None = None, ids: list[int] | None = None,
          urgent: bool = False) -> list[Message]:
    """Claim up to ``n`` due rows for this worker and log an attempt for each (``urgent``:
    only welcome rows due in the last minute)."""
    now = utc(now)
    worker = worker or worker_name()
    lease = now + timedelta(seconds=ws.settings.dispatch_lease_seconds)
    eng = ws.ops.engine
    with eng.begin() as c:
        due = _urgent(now) if urgent else and_(outbox.c.status.in_(CLAIMABLE),
                                               outbox.c.next_attempt_at <= now)
        sub = select(outbox.c.id).where(due)
        paused = _paused(c, now)
        if paused:
            sub = sub.where(outbox.c.channel.not_in(paused))
        if channels:
            sub = sub.where(outbox.c.channel.in_(channels))
        if ids is not None:
            sub = sub.where(outbox.c.id.in_(ids))
        sub = sub.order_by(outbox.c.next_attempt_at, outbox.c.id).limit(n)
        if eng.dialect.name == "postgresql":
            # a CTE is evaluated once; `id IN (SELECT … LIMIT n FOR UPDATE SKIP LOCKED)` may be
            # re-evaluated by PostgreSQL and claim more than n rows
            picked = sub.with_for_update(skip_locked=True).cte("picked")
            which = outbox.c.id == picked.c.id
        else:
            which = outbox.c.id.in_(sub.scalar_subquery())
        rows = c.execute(
            update(outbox).where(and_(which, due))
            .values(status="sending", attempts=outbox.c.attempts + 1, next_attempt_at=lease)
            .returning(outbox.c.id, outbox.c.idempotency_key, outbox.c.channel,
                       outbox.c.recipient, outbox.c.payload, outbox.c.attempts,
                       outbox.c.consumer_id, outbox.c.guide_id, outbox.c.purpose,
                       outbox.c.created_at)).all()
        if not rows:
            return []
        ids = [r.id for r in rows]
        doubt = {r.outbox_id for r in c.execute(
            select(channel_attempts.c.outbox_id).where(
                channel_attempts.c.outbox_id.in_(ids),
                channel_attempts.c.finished_at.is_(None) | (channel_attempts.c.outcome == "unknown")))}
        if doubt:
            c.execute(update(channel_attempts).where(
                channel_attempts.c.outbox_id.in_(doubt), channel_attempts.c.finished_at.is_(None))
                .values(finished_at=datetime.now(UTC), outcome="lost",
                        error="lease expired: the dispatcher stopped mid-attempt"))
        started = datetime.now(UTC)
        c.execute(insert(channel_attempts), [
            {"outbox_id": r.id, "attempt": r.attempts, "channel": r.channel, "worker": worker,
             "started_at": started} for r in rows])
    return [Message(id=r.id, idempotency_key=r.idempotency_key, channel=r.channel,
                    recipient=r.recipient, payload=r.payload or {}, attempt=r.attempts,
                    consumer_id=r.consumer_id, guide_id=r.guide_id, purpose=r.purpose,
                    created_at=utc(r.created_at), in_doubt=r.id in doubt)
            for r in sorted(rows, key=lambda r: r.id)]


def _finish(ws, now: datetime, done: list[tuple[Message, Outcome]], res: DrainResult,
            rng: random.Random) -> None:
    """Write every outcome in one transaction (fenced by the attempt number)."""
    s = ws.settings
    real = datetime.now(UTC)
    out_rows: dict[str, list[dict]] = {"sent": [], "failed": [], "dead": [], "deferred": []}
    att_rows: list[dict] = []
    receipts: list[dict] = []
    for m, o in done:
        base = {"_id": m.id, "_attempt": m.attempt}
        if isinstance(o, Sent):
            out_rows["sent"].append({**base, "pid": o.provider_message_id,
                                     "read": now if o.receipt == "read" else None})
            att_rows.append({**base, "outcome": "sent", "error": None,
                             "pid": o.provider_message_id})
            receipts.append({"outbox_id": m.id, "status": "sent", "at": now,
                             "provider_message_id": o.provider_message_id, "detail": {}})
            if o.receipt != "sent":
                receipts.append({"outbox_id": m.id, "status": o.receipt, "at": now,
                                 "provider_message_id": o.provider_message_id, "detail": {}})
            res.count(m.channel, "sent")
        elif isinstance(o, Retry) and m.attempt < s.dispatch_max_attempts:
            delay = backoff_seconds(m.attempt, s.dispatch_backoff_seconds,
                                    s.dispatch_backoff_max_seconds, o.after, rng)
            if o.before is not None:
                delay = min(delay, max(o.before, o.after or 0.0))
            out_rows["failed"].append({**base, "err": o.error[:1000],
                                       "nxt": now + timedelta(seconds=delay)})
            att_rows.append({**base, "outcome": "unknown" if o.maybe_delivered else "retry",
                             "error": o.error[:1000], "pid": None})
            res.count(m.channel, "retried")
        elif isinstance(o, Retry | Dead):
            err = o.error if isinstance(o, Dead) else (
                f"gave up after {m.attempt} attempts"
                + (" (in doubt: the last may have been delivered)" if o.maybe_delivered else "")
                + f": {o.error}")
            out_rows["dead"].append({**base, "err": err[:1000]})
            att_rows.append({**base, "outcome": "dead", "error": err[:1000], "pid": None})
            receipts.append({"outbox_id": m.id, "status": "failed", "at": now,
                             "provider_message_id": None, "detail": {"error": err[:200]}})
            res.count(m.channel, "dead")
        elif isinstance(o, Deferred):
            out_rows["deferred"].append({**base, "nxt": max(utc(o.until), now),
                                         "st": "pending" if m.attempt <= 1 else "failed"})
            att_rows.append({**base, "outcome": "deferred", "error": "channel paused",
                             "pid": None})
            res.count(m.channel, "deferred")
    fence = and_(outbox.c.id == bindparam("_id"), outbox.c.attempts == bindparam("_attempt"),
                 outbox.c.status == "sending")
    stmts = {
        "sent": update(outbox).where(fence).values(
            status="sent", sent_at=now, provider_message_id=bindparam("pid"), last_error=None,
            read_at=bindparam("read")),
        "failed": update(outbox).where(fence).values(
            status="failed", next_attempt_at=bindparam("nxt"), last_error=bindparam("err")),
        "dead": update(outbox).where(fence).values(status="dead", last_error=bindparam("err")),
        "deferred": update(outbox).where(fence).values(
            status=bindparam("st"), next_attempt_at=bindparam("nxt"),
            attempts=outbox.c.attempts - 1),
    }
    with ws.ops.engine.begin() as c:
        stale: set[int] = set()
        for kind, rows in out_rows.items():
            if not rows:
                continue
            r = c.execute(stmts[kind], rows)
            if r.rowcount != len(rows):  # a dispatcher whose lease ran out: find which rows
                for row in rows:
                    got = c.execute(select(outbox.c.attempts, outbox.c.status).where(
                        outbox.c.id == row["_id"])).first()
                    if got is None or got.attempts != row["_attempt"] or (
                            got.status == "sending"):
                        stale.add(row["_id"])
        if att_rows:
            c.execute(update(channel_attempts).where(and_(
                channel_attempts.c.outbox_id == bindparam("_id"),
                channel_attempts.c.attempt == bindparam("_attempt"),
                channel_attempts.c.finished_at.is_(None))).values(
                finished_at=real, outcome=bindparam("outcome"), error=bindparam("error"),
                provider_message_id=bindparam("pid")), att_rows)
        receipts = [r for r in receipts if r["outbox_id"] not in stale]
        if receipts:
            _insert_receipts(c, receipts)
        if stale:
            log.warning("dispatcher: %d outcomes discarded (lease expired, row reclaimed)",
                        len(stale))


def _insert_receipts(conn, rows: list[dict]) -> None:
    have = {(r.outbox_id, r.status) for r in conn.execute(
        select(channel_receipts.c.outbox_id, channel_receipts.c.status).where(
            channel_receipts.c.outbox_id.in_({r["outbox_id"] for r in rows})))}
    new = [r for r in rows if (r["outbox_id"], r["status"]) not in have]
    if new:
        conn.execute(insert(channel_receipts), new)


def _pause(ws, channel: str, until: datetime, reason: str) -> None:
    with ws.ops.engine.begin() as c:
        got = c.execute(update(channel_state).where(channel_state.c.channel == channel).values(
            paused_until=until, reason=reason[:500], updated_at=datetime.now(UTC)))
        if not got.rowcount:
            c.execute(insert(channel_state).values(channel=channel, paused_until=until,
                                                   reason=reason[:500],
                                                   updated_at=datetime.now(UTC)))


def _guarded(ws, msgs: list[Message]) -> dict[int, str]:
    stop: dict[int, str] = {}
    for check in send_guards.checks:
        stop.update(check(ws, [m for m in msgs if m.id not in stop]))
    return stop


class _Adapters:
    """The channel objects of one drain (one HTTP client shared by all)."""

    def __init__(self, ws, http=None):
        self.ws = ws
        self._http = http
        self._own_http = None
        self.made: dict[str, Channel] = {}

    @property
    def http(self):
        if self._http is None:
            import httpx

            self._own_http = self._http = httpx.Client(
                timeout=self.ws.settings.channel_timeout_seconds,
                limits=httpx.Limits(max_connections=64, max_keepalive_connections=32))
        return self._http

    def get(self, name: str) -> Channel:
        if name not in self.made:
            cls = get_channel_class(name)
            self.made[name] = cls(self.ws, http=self.http if cls.uses_http else None)
        return self.made[name]

    def close(self) -> None:
        if self._own_http is not None:
            self._own_http.close()


def _send_channel(ws, ch: Channel, msgs: list[Message], now: datetime) -> list[Outcome]:
    def on_rate_limit(r: Retry) -> None:
        with ch._lock:
            if ch.paused_until is None:
                ch.paused_until = now + timedelta(seconds=r.after or 60.0)
                _pause(ws, ch.name, ch.paused_until, r.error)

    if ch.concurrency() <= 1 or len(msgs) <= 1:
        return ch.send_many(msgs, None, on_rate_limit)
    with ThreadPoolExecutor(max_workers=ch.concurrency(),
                            thread_name_prefix=f"siyu-{ch.name}") as pool:
        return ch.send_many(msgs, pool, on_rate_limit)


def drain(ws, now: datetime | None = None, limit: int | None = None, *,
          channels: list[str] | None = None, ids: list[int] | None = None, http=None,
          worker: str | None = None, rng: random.Random | None = None) -> DrainResult:
    """Deliver every due outbox row (at most ``limit``) and return what happened.

    ``now`` is the dispatcher's clock (the simulated one of ``siyu run --until``; default:
    the real time): rows due at or before it are sent, and retries are scheduled from it.
    Safe to run in several processes at once and to kill at any point."""
    from siyu.channels import builtin  # noqa: F401  (built-in channels and send guards)

    started = time.perf_counter()
    now = utc(now) or datetime.now(UTC)
    rng = rng or random.Random()
    res = DrainResult()
    adapters = _Adapters(ws, http)
    worker = worker or worker_name()
    # welcome rows exist only where WeCom callbacks come in; looked for at most every 0.2 s
    urgent = bool(ws.settings.wecom_callback_token.get_secret_value())
    looked = float("-inf")
    try:
        while limit is None or res.claimed < limit:
            n = ws.settings.dispatch_batch if limit is None else min(
                ws.settings.dispatch_batch, limit - res.claimed)
            msgs: list[Message] = []
            if urgent and time.perf_counter() - looked >= URGENT_EVERY:
                msgs = claim(ws, now, n, worker=worker, channels=channels, ids=ids, urgent=True)
                looked = time.perf_counter()
            if len(msgs) < n:
                msgs += claim(ws, now, n - len(msgs), worker=worker, channels=channels,
                              ids=ids)
            if not msgs:
                break
            res.claimed += len(msgs)
            res.in_doubt += sum(m.in_doubt for m in msgs)
            done: list[tuple[Message, Outcome]] = []
            stop = _guarded(ws, msgs) if send_guards.checks else {}
            groups: dict[str, list[Message]] = {}
            for m in msgs:
                if m.id in stop:
                    done.append((m, Dead(f"suppressed: {stop[m.id]}")))
                else:
                    groups.setdefault(m.channel, []).append(m)
            chans = {}
            for name, group in groups.items():
                try:
                    chans[name] = adapters.get(name)
                except Exception as e:  # an unknown channel name: dead letters, say why
                    done.extend((m, Dead(f"unknown channel {name!r}: {e}")) for m in group)
            live = [(chans[n], g) for n, g in groups.items() if n in chans]
            if len(live) == 1:
                ch, g = live[0]
                done.extend(zip(g, _send_channel(ws, ch, g, now), strict=True))
            elif live:
                with ThreadPoolExecutor(max_workers=len(live)) as outer:
                    futs = [(g, outer.submit(_send_channel, ws, ch, g, now)) for ch, g in live]
                    for g, f in futs:
                        done.extend(zip(g, f.result(), strict=True))
            _finish(ws, now, done, res, rng)
    finally:
        adapters.close()
    res.seconds = time.perf_counter() - started
    if res.claimed:
        log.info("dispatch: claimed=%d sent=%d retried=%d dead=%d deferred=%d in_doubt=%d",
                 res.claimed, res.sent, res.retried, res.dead, res.deferred, res.in_doubt)
    return res
