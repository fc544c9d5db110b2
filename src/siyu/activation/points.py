"""Loyalty points 积分: a minimal ledger in the operational store (table ``points_ledger``).

A grant adds points that lapse at its ``expires_at``; a redemption takes points from the
grants that expire first (then the oldest). Balances and the points expiring in a window are
derived from the rows, at any instant, so the simulated clock and the real one agree.
Grants from journeys (the ``points`` action) carry the step's idempotency key; grants and
redemptions from the command line get a fresh one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from siyu.activation.bulk import insert_rows
from siyu.activation.clock import utc
from siyu.errors import SiyuError, UsageError
from siyu.i18n import tr
from siyu.ops.tables import points_ledger

__all__ = ["Lot", "grant", "redeem", "lots", "balance", "expiring", "history",
           "NotEnoughPoints", "MAX_POINTS"]

P = points_ledger
MAX_POINTS = 10_000_000
"""The largest single grant or redemption (a typo guard)."""


class NotEnoughPoints(SiyuError):
    """A redemption larger than the consumer's balance."""


@dataclass
class Lot:
    """What is left of one grant at some instant."""

    grant_id: int
    granted_at: datetime
    expires_at: datetime | None
    points: int  # as granted
    left: int  # not redeemed, not lapsed


def _amount(points, what: str) -> int:
    if not isinstance(points, int) or isinstance(points, bool) or not 1 <= points <= MAX_POINTS:
        raise UsageError(tr("{w} 应为 1 到 {m} 之间的整数，而不是 {p!r}",
                            "{w} must be a whole number from 1 to {m}, not {p!r}",
                            w=what, m=MAX_POINTS, p=points))
    return points


def grant(conn, consumer_id: str, points: int, *, at: datetime, expires_at: datetime | None,
          source: str, reason: str | None = None, key: str | None = None) -> str:
    """Add ``points`` for ``consumer_id`` at ``at``, lapsing at ``expires_at`` (None: never);
    a second grant with the same ``key`` is ignored. Returns the key."""
    _amount(points, tr("积分", "points"))
    if expires_at is not None and expires_at <= at:
        raise UsageError(tr("到期时间 {e} 应晚于发放时间 {a}",
                            "the expiry {e} must be after the grant time {a}",
                            e=expires_at.isoformat(), a=at.isoformat()))
    key = key or f"p:{uuid.uuid4().hex}"
    insert_rows(conn, P, [{"idempotency_key": key, "consumer_id": consumer_id, "kind": "grant",
                           "points": points, "at": at, "expires_at": expires_at,
                           "reason": (reason or None) and reason[:200], "source": source[:128]}],
                ignore=True)
    return key


def redeem(conn, consumer_id: str, points: int, *, at: datetime, source: str,
           reason: str | None = None, key: str | None = None) -> str:
    """Take ``points`` from the consumer's balance at ``at`` (refused when it is smaller)."""
    _amount(points, tr("积分", "points"))
    have = balance(conn, consumer_id, at)
    if points > have:
        raise NotEnoughPoints(tr("积分不足：余额 {b}，要兑换 {p}",
                                 "not enough points: balance {b}, asked {p}", b=have, p=points))
    key = key or f"p:{uuid.uuid4().hex}"
    insert_rows(conn, P, [{"idempotency_key": key, "consumer_id": consumer_id, "kind": "redeem",
                           "points": points, "at": at, "expires_at": None,
                           "reason": (reason or None) and reason[:200], "source": source[:128]}],
                ignore=True)
    return key


def _allocate(rows, at: datetime) -> list[Lot]:
    """The lots of one consumer's ledger ``rows`` (time order) as they stand at ``at``."""
    out: list[Lot] = []
    for r in rows:
        t = utc(r.at)
        if t > at:
            break
        if r.kind == "grant":
            out.append(Lot(r.id, t, utc(r.expires_at), r.points, r.points))
            continue
        need = r.points
        live = [lot for lot in out if lot.left > 0 and (lot.expires_at is None
                                                        or lot.expires_at > t)]
        live.sort(key=lambda lot: (lot.expires_at is None, lot.expires_at or t, lot.grant_id))
        for lot in live:
            take = min(need, lot.left)
            lot.left -= take
            need -= take
            if need == 0:
                break
    for lot in out:  # lapsed by ``at``
        if lot.expires_at is not None and lot.expires_at <= at:
            lot.left = 0
    return out


def _rows(conn, consumer_ids: list[str] | None = None):
    q = select(P.c.id, P.c.consumer_id, P.c.kind, P.c.points, P.c.at, P.c.expires_at)
    if consumer_ids is not None:
        q = q.where(P.c.consumer_id.in_(consumer_ids))
    by: dict[str, list] = {}
    for r in conn.execute(q.order_by(P.c.consumer_id, P.c.at, P.c.id)):
        by.setdefault(r.consumer_id, []).append(r)
    return by


def lots(conn, consumer_id: str, at: datetime) -> list[Lot]:
    """Every grant of the consumer up to ``at`` and what is left of it."""
    return _allocate(_rows(conn, [consumer_id]).get(consumer_id, []), at)


def balance(conn, consumer_id: str, at: datetime) -> int:
    return sum(lot.left for lot in lots(conn, consumer_id, at))


def expiring(conn, start: datetime, end: datetime, *, at: datetime | None = None
             ) -> dict[str, int]:
    """Consumers with points lapsing in ``(start, end]`` and how many (what is left of those
    grants at ``at``, default ``start``)."""
    at = at or start
    naive = conn.dialect.name == "sqlite"

    def bound(t: datetime):
        return t.astimezone(UTC).replace(tzinfo=None) if naive else t
    ids = sorted(conn.execute(select(P.c.consumer_id).distinct().where(
        P.c.kind == "grant", P.c.expires_at > bound(start), P.c.expires_at <= bound(end),
        P.c.at <= bound(at))).scalars())
    out: dict[str, int] = {}
    for i in range(0, len(ids), 500):
        for cid, rows in _rows(conn, ids[i:i + 500]).items():
            n = sum(lot.left for lot in _allocate(rows, at)
                    if lot.expires_at is not None and start < lot.expires_at <= end)
            if n > 0:
                out[cid] = n
    return out


def history(conn, consumer_id: str) -> list[dict]:
    """The consumer's ledger rows, oldest first."""
    q = select(P).where(P.c.consumer_id == consumer_id).order_by(P.c.at, P.c.id)
    return [{"kind": r.kind, "points": r.points, "at": utc(r.at),
             "expires_at": utc(r.expires_at), "reason": r.reason, "source": r.source}
            for r in conn.execute(q)]
