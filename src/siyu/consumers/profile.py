"""The 360° view of one consumer: keys, attributes, relationships, orders and activity.

Reads the canonical tables through Ibis for every key OneID put in the consumer
(``identity_map``), as of an instant (default: now; later events are ignored). Times are shown
in the brand's time zone (§1), money in yuan; paid orders only count towards GMV (§4).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import ibis

from siyu.errors import SiyuError
from siyu.i18n import tr
from siyu.identity.keys import mask_key
from siyu.identity.lookup import find_consumer, keys_of, merged_into
from siyu.schema import TABLES

__all__ = ["profile", "ACTIVITY_TIMES"]

ACTIVITY_TIMES: dict[str, str] = {
    "interactions": "occurred_at", "orders": "paid_at", "relationships": "occurred_at",
    "shares": "occurred_at", "reviews": "occurred_at",
}
"""Tables and time columns whose latest row is the consumer's last activity."""


def _rows(expr: ibis.Table) -> list[dict[str, Any]]:
    return expr.to_pyarrow().to_pylist()


class _View:
    """Helpers bound to one consumer's keys and the brand's zone."""

    def __init__(self, ws, keys: list[str], now: datetime):
        self.wh = ws.warehouse
        self.zone: ZoneInfo = ws.settings.zone
        self.keys = keys
        self.now = now

    def of(self, table: str, until: str | None = None) -> ibis.Table:
        """Rows of ``table`` for the consumer's keys, up to ``now`` by column ``until``."""
        t = self.wh.table(table)
        t = t.filter(t.consumer_key.isin(self.keys))
        return t.filter(t[until] <= self.now) if until else t

    def time(self, value: datetime | None) -> str | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(self.zone).isoformat()


def profile(ws, key_or_consumer_id: str, *, mask: bool = True,
            now: datetime | None = None) -> dict[str, Any]:
    """Everything known about the consumer holding ``key_or_consumer_id`` (a key in any
    accepted spelling, or a current or old consumer id). Keys of personal types are masked
    unless ``mask`` is false. Raises :class:`SiyuError` subclasses with a clear message when
    identities were never resolved, or the key or id is unknown."""
    found = find_consumer(ws, key_or_consumer_id)
    if len(found.consumer_ids) > 1:
        raise SiyuError(tr("消费者 ID {cid} 已拆分为：{ids}；请查看其中一个",
                           "consumer id {cid} was split into {ids}; show one of them",
                           cid=found.requested, ids=", ".join(found.consumer_ids)))
    cid = found.consumer_ids[0]
    now = now or datetime.now(UTC)
    keys = keys_of(ws, cid)
    view = _View(ws, [k["key"] for k in keys], now)
    show = mask_key if mask else (lambda k: k)
    relationships, last_rel = _relationships(view)
    orders, last_order = _orders(view)
    interactions, last_interaction = _interactions(view)
    last = [t for t in (last_rel, last_order, last_interaction, _last_other(view))
            if t is not None]
    return {
        "consumer_id": cid,
        "requested": show(found.key) if found.key else found.requested,
        "resolved_via": found.via,
        "previous_ids": merged_into(ws, cid),
        "keys": [{"key": show(k["key"]), "type": k["key_type"],
                  "first_seen": view.time(k["first_seen"])} for k in keys],
        "attributes": _attributes(view, show),
        "relationships": relationships,
        "orders": orders,
        "last_activity_at": view.time(max(last)) if last else None,
        "interactions": interactions,
        "as_of": view.time(now),
    }


def _attributes(view: _View, show) -> dict[str, Any] | None:
    t = view.of("consumers")
    rows = _rows(t.order_by([ibis.desc("_load_id"), ibis.desc("_line")]).limit(1))
    if not rows:
        return None
    row = rows[0]
    out: dict[str, Any] = {"from_key": show(row["consumer_key"])}
    for c in TABLES["consumers"].columns:
        if c.name == "consumer_key":
            continue
        v = row[c.name]
        if c.type == "timestamp":
            v = view.time(v)
        elif v is not None and c.type == "date":
            v = v.isoformat()
        out[c.name] = v
    out["attrs"] = row.get("attrs")
    return out


def _relationships(view: _View) -> tuple[list[dict[str, Any]], datetime | None]:
    """One entry per (field, field_ref): active when its last event up to now is a start;
    and the time of the latest event."""
    t = view.of("relationships", "occurred_at")
    rows = _rows(t.select("field", "field_ref", "action", "occurred_at", "source", "event_id"))
    rows.sort(key=lambda r: (r["occurred_at"], r["event_id"]))
    by_ref: dict[tuple, dict[str, Any]] = {}
    for r in rows:
        cur = by_ref.setdefault((r["field"], r["field_ref"]), {
            "field": r["field"], "field_ref": r["field_ref"], "status": "ended",
            "started_at": None, "ended_at": None, "source": None})
        if r["action"] == "start":
            if cur["status"] != "active":
                cur["started_at"], cur["source"] = r["occurred_at"], r["source"]
            cur["status"], cur["ended_at"] = "active", None
        else:
            cur["status"], cur["ended_at"] = "ended", r["occurred_at"]
    out = []
    for rel in sorted(by_ref.values(), key=lambda r: (r["field"], r["field_ref"] or "")):
        rel["started_at"] = view.time(rel["started_at"])
        rel["ended_at"] = view.time(rel["ended_at"])
        out.append(rel)
    return out, (rows[-1]["occurred_at"] if rows else None)


def _orders(view: _View) -> tuple[dict[str, Any], datetime | None]:
    """Order counts, paid GMV and first/last paid order; and the latest order time of any
    status."""
    t = view.of("orders", "paid_at")
    paid = t.status.fill_null("paid") == "paid"
    row = _rows(t.aggregate(
        count=t.count(),
        paid=paid.sum(),
        gmv=t.amount.sum(where=paid),
        first_order_at=t.paid_at.min(where=paid),
        last_order_at=t.paid_at.max(where=paid),
        last_any=t.paid_at.max(),
    ))[0]
    gmv = row["gmv"] if row["gmv"] is not None else Decimal("0")
    return {
        "count": int(row["count"] or 0), "paid": int(row["paid"] or 0),
        "gmv": float(round(Decimal(gmv), 2)),
        "first_order_at": view.time(row["first_order_at"]),
        "last_order_at": view.time(row["last_order_at"]),
    }, row["last_any"]


_OTHER_ACTIVITY = [t for t in ACTIVITY_TIMES if t not in ("interactions", "orders",
                                                          "relationships")]


def _last_other(view: _View) -> datetime | None:
    """The latest row of the activity tables not read otherwise (shares, reviews): one
    query."""
    parts = []
    for table in _OTHER_ACTIVITY:
        col = ACTIVITY_TIMES[table]
        t = view.of(table, col)
        parts.append(t.aggregate(last=t[col].max()))
    got = [r["last"] for r in _rows(ibis.union(*parts)) if r["last"] is not None]
    return max(got) if got else None


def _interactions(view: _View) -> tuple[dict[str, int], datetime | None]:
    """Interactions per type and the latest one: one scan."""
    t = view.of("interactions", "occurred_at")
    rows = _rows(t.group_by("type").aggregate(n=t.count(), last=t.occurred_at.max()))
    last = max((r["last"] for r in rows), default=None)
    return {r["type"]: int(r["n"]) for r in sorted(rows, key=lambda r: r["type"])}, last
