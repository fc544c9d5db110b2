"""The 360° view of one consumer: keys, attributes, relationships, orders and activity.

Reads the canonical tables for every key OneID put in the consumer (``identity_map``), as of an
instant (default: now; later events are ignored). Times are shown in the brand's time zone
(§1), money in yuan; paid orders only count towards GMV (§4). Each table is read once, through
the consumer lookup index (:mod:`siyu.consumers.index`) where it is usable and by a scan of the
table otherwise — the answer is the same.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from siyu.consumers.index import INDEXED, Finder
from siyu.errors import SiyuError
from siyu.i18n import tr
from siyu.identity import tables as T
from siyu.identity.keys import is_consumer_id, mask_key, normalize_key
from siyu.identity.lookup import Lookup, find_consumer
from siyu.schema import TABLES

__all__ = ["profile", "resolve", "ACTIVITY_TIMES"]

ACTIVITY_TIMES: dict[str, str] = {
    "interactions": "occurred_at", "orders": "paid_at", "relationships": "occurred_at",
    "shares": "occurred_at", "reviews": "occurred_at",
}
"""Tables and time columns whose latest row is the consumer's last activity."""


def _key_order(k: dict[str, Any]) -> tuple:
    """Keys oldest first (as :func:`siyu.identity.lookup.keys_of`)."""
    return (k["first_seen"] is None, k["first_seen"] or 0, k["key"])


def resolve(ws, text: str, finder: Finder | None = None
            ) -> tuple[Lookup, list[dict[str, Any]]]:
    """The consumer holding ``text`` (a key in any accepted spelling, or a current or old
    consumer id) and every key of it (``key``, ``key_type``, ``first_seen``, oldest first).
    Raises :class:`SiyuError` subclasses as :func:`~siyu.identity.lookup.find_consumer` does,
    and when an old id was split into several consumers."""
    finder = finder or Finder(ws)
    found = _find_indexed(finder, text) or find_consumer(ws, text)
    if len(found.consumer_ids) > 1:
        raise SiyuError(tr("消费者 ID {cid} 已拆分为：{ids}；请查看其中一个",
                           "consumer id {cid} was split into {ids}; show one of them",
                           cid=found.requested, ids=", ".join(found.consumer_ids)))
    keys = finder.rows("SELECT key, key_type, first_seen FROM {src}", T.MAP,
                       found.consumer_ids, key="consumer_id")
    return found, sorted(keys, key=_key_order)


def _find_indexed(finder: Finder, text: str) -> Lookup | None:
    """The plain cases of :func:`find_consumer` (a known key, a current consumer id) through
    the index; None when the index is not usable or the case is not plain."""
    if finder.usable(INDEXED["consumer_index_identity_map"]) is None:
        return None
    text = text.strip()
    if is_consumer_id(text):
        hit = finder.rows("SELECT consumer_id FROM {src} LIMIT 1", T.MAP, [text],
                          key="consumer_id")
        return Lookup(text, [text], "consumer_id") if hit else None
    try:
        key = normalize_key(text)
    except ValueError:
        return None  # find_consumer says why
    hit = finder.rows("SELECT consumer_id FROM {src} LIMIT 1", T.MAP, [key], key="key")
    return Lookup(text, [hit[0]["consumer_id"]], "key", key=key) if hit else None


class _View:
    """Reads bound to one consumer's keys, an instant and the brand's zone."""

    def __init__(self, ws, keys: list[str], now: datetime, finder: Finder):
        self.zone: ZoneInfo = ws.settings.zone
        self.keys = keys
        self.now = now
        self.finder = finder

    def rows(self, sql: str, table: str, until: str | None = None) -> list[dict[str, Any]]:
        """``sql`` over ``{src}``, the rows of ``table`` for the consumer's keys; with
        ``until``, only those whose column ``until`` is at most ``now``."""
        if until:
            sql = sql.replace("{src}", f"(SELECT * FROM {{src}} AS s WHERE s.{until} <= ?)", 1)
        return self.finder.rows(sql, table, self.keys,
                                params=[self.now] if until else [])

    def time(self, value: datetime | None) -> str | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(self.zone).isoformat()


def profile(ws, key_or_consumer_id: str, *, mask: bool = True,
            now: datetime | None = None, finder: Finder | None = None,
            resolved: tuple[Lookup, list[dict[str, Any]]] | None = None) -> dict[str, Any]:
    """Everything known about the consumer holding ``key_or_consumer_id`` (a key in any
    accepted spelling, or a current or old consumer id). Keys of personal types are masked
    unless ``mask`` is false. Raises :class:`SiyuError` subclasses with a clear message when
    identities were never resolved, or the key or id is unknown. ``resolved``: what
    :func:`resolve` already returned for it."""
    finder = finder or Finder(ws)
    found, keys = resolved or resolve(ws, key_or_consumer_id, finder)
    cid = found.consumer_ids[0]
    now = now or datetime.now(UTC)
    view = _View(ws, [k["key"] for k in keys], now, finder)
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
        "previous_ids": _merged_into(finder, cid),
        "keys": [{"key": show(k["key"]), "type": k["key_type"],
                  "first_seen": view.time(k["first_seen"])} for k in keys],
        "attributes": _attributes(view, show),
        "relationships": relationships,
        "orders": orders,
        "last_activity_at": view.time(max(last)) if last else None,
        "interactions": interactions,
        "as_of": view.time(now),
    }


def _merged_into(finder: Finder, cid: str) -> list[str]:
    """Old consumer ids recorded as merged or split into ``cid``
    (:func:`siyu.identity.lookup.merged_into`, without the query planner's overhead)."""
    con = finder.con
    if not con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?",
                       [T.CHANGES]).fetchone()[0]:
        return []
    rows = con.execute(f'SELECT DISTINCT old_consumer_id FROM "{T.CHANGES}" '
                       "WHERE new_consumer_id = ?", [cid]).fetchall()
    return sorted(r[0] for r in rows)


def _attributes(view: _View, show) -> dict[str, Any] | None:
    rows = view.rows("SELECT * FROM {src} ORDER BY _load_id DESC, _line DESC LIMIT 1",
                     "consumers")
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
    rows = view.rows("SELECT field, field_ref, action, occurred_at, source, event_id "
                     "FROM {src}", "relationships", "occurred_at")
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
    paid = "coalesce(status, 'paid') = 'paid'"
    row = view.rows(
        f"SELECT count(*) AS count, count(*) FILTER ({paid}) AS paid, "
        f"sum(amount) FILTER ({paid}) AS gmv, min(paid_at) FILTER ({paid}) AS first_order_at, "
        f"max(paid_at) FILTER ({paid}) AS last_order_at, max(paid_at) AS last_any FROM {{src}}",
        "orders", "paid_at")[0]
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
    """The latest row of the activity tables not read otherwise (shares, reviews)."""
    got = []
    for table in _OTHER_ACTIVITY:
        col = ACTIVITY_TIMES[table]
        got += [r["last"] for r in view.rows(f"SELECT max({col}) AS last FROM {{src}}",
                                             table, col) if r["last"] is not None]
    return max(got) if got else None


def _interactions(view: _View) -> tuple[dict[str, int], datetime | None]:
    """Interactions per type and the latest one: one read."""
    rows = view.rows("SELECT type, count(*) AS n, max(occurred_at) AS last FROM {src} "
                     "GROUP BY type", "interactions", "occurred_at")
    last = max((r["last"] for r in rows), default=None)
    return {r["type"]: int(r["n"]) for r in sorted(rows, key=lambda r: r["type"])}, last
