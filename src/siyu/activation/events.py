"""Event kinds a journey can react to (triggers, branch conditions, exit conditions, goals):
each reads one canonical warehouse table through OneID (``identity_map``).

A kind is a small class in :data:`EVENTS`; ``where`` keys become SQL predicates (``message``
with a ``scenario`` is filtered in Python by the chat-scenario detector of
:mod:`siyu.tags.text`). Queries are plain DuckDB SQL with parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar

__all__ = ["EVENTS", "EventKind", "check_event", "event_rows", "first_unmapped_load",
           "latest_load"]

Problem = Callable[[tuple, str], None]


class EventKind:
    """One event kind: its table, time column, id column and the ``where`` keys it knows."""

    name: ClassVar[str]
    table: ClassVar[str]
    time_col: ClassVar[str] = "occurred_at"
    id_col: ClassVar[str] = "event_id"
    base: ClassVar[str] = "TRUE"
    keys: ClassVar[dict[str, tuple[type, str]]] = {}
    """where key → (python type, SQL predicate with one ``?``)."""

    def predicates(self, where: dict[str, Any]) -> tuple[list[str], list[Any]]:
        preds, params = [self.base], []
        for k, v in where.items():
            if k in self.keys and self.keys[k][1]:
                preds.append(self.keys[k][1])
                params.append(v)
        return preds, params

    def post_filter(self, where: dict[str, Any]) -> Callable[[list[str | None]], list[bool]] | None:
        return None


class Order(EventKind):
    name, table, time_col, id_col = "order", "orders", "paid_at", "order_id"
    base = "e.status = 'paid'"
    keys = {"field": (str, "e.field = ?"), "store_id": (str, "e.store_id = ?"),
            "min_amount": (float, "e.amount >= ?"),
            "category": (str, "EXISTS (SELECT 1 FROM order_items i WHERE i.order_id = "
                              "e.order_id AND i.category = ?)")}


class Relationship(EventKind):
    name, table = "relationship", "relationships"
    keys = {"field": (str, "e.field = ?"), "action": (str, "e.action = ?")}

    def predicates(self, where):
        return super().predicates({"action": "start", **where})


class Share(EventKind):
    name, table, id_col = "share", "shares", "share_id"
    keys = {"field": (str, "e.field = ?"), "content_type": (str, "e.content_type = ?")}


class Review(EventKind):
    name, table, id_col = "review", "reviews", "review_id"
    keys = {"min_rating": (int, "e.rating >= ?"), "max_rating": (int, "e.rating <= ?")}


class Coupon(EventKind):
    name, table = "coupon", "coupons"
    keys = {"action": (str, "e.action = ?"), "template_id": (str, "e.template_id = ?")}


class Interaction(EventKind):
    name, table = "interaction", "interactions"
    keys = {"type": (str, "e.type = ?"), "field": (str, "e.field = ?")}


class Message(EventKind):
    name, table = "message", "interactions"
    base = "e.type = 'message'"
    keys = {"field": (str, "e.field = ?"), "scenario": (str, "")}

    def post_filter(self, where):
        scenario = where.get("scenario")
        if not scenario:
            return None

        def keep(texts: list[str | None]) -> list[bool]:
            from siyu.tags.text import detect_many

            hits = detect_many([t or "" for t in texts])
            return [any(h.scenario == scenario for h in hs) for hs in hits]
        return keep


EVENTS: dict[str, EventKind] = {k.name: k() for k in
                                (Order, Relationship, Share, Review, Coupon, Message, Interaction)}


def check_event(spec: dict[str, Any], path: tuple, problem: Problem) -> None:
    """Validate ``{event: E, where: {...}}`` (the other keys are the caller's)."""
    ev = spec.get("event")
    if ev not in EVENTS:
        problem(path + ("event",), f"unknown event {ev!r}; known: {', '.join(EVENTS)}")
        return
    kind = EVENTS[ev]
    where = spec.get("where", {})
    if not isinstance(where, dict):
        problem(path + ("where",), "where must be a mapping")
        return
    for k, v in where.items():
        if k not in kind.keys:
            problem(path + ("where", k), f"event {ev!r} has no where key {k!r}; known: "
                    f"{', '.join(kind.keys)}")
            continue
        typ = kind.keys[k][0]
        ok = isinstance(v, (int, float)) and not isinstance(v, bool) if typ is float else \
            isinstance(v, typ) and not isinstance(v, bool)
        if not ok:
            problem(path + ("where", k), f"{k} must be a {typ.__name__}")
    if ev == "message" and "scenario" in where:
        from siyu.tags.text.lexicon import load_lexicon

        known = load_lexicon().scenarios
        if where["scenario"] not in known:
            problem(path + ("where", "scenario"), f"unknown chat scenario "
                    f"{where['scenario']!r}; known: {', '.join(known)}")


def latest_load(raw, event: str) -> str | None:
    """The last import (``_load_id``, in import order) stored in the event's table."""
    kind = EVENTS[event]
    if not _has(raw, kind.table):
        return None
    return raw.execute(f"SELECT max(_load_id) FROM {kind.table}").fetchone()[0]


def first_unmapped_load(raw, event: str, after: str) -> tuple[str, str | None] | None:
    """The first import after ``after`` (a load id) holding a row of the event's table whose
    consumer key has no consumer id in ``identity_map`` yet, and the import before it in
    that table; None when there is none."""
    kind = EVENTS[event]
    if not _has(raw, kind.table):
        return None
    t = kind.table
    if _has(raw, "identity_map"):
        first = raw.execute(f"SELECT min(e._load_id) FROM {t} e LEFT JOIN identity_map m "
                            "ON m.key = e.consumer_key WHERE e._load_id > ? AND m.key IS NULL",
                            [after]).fetchone()[0]
    else:
        first = raw.execute(f"SELECT min(_load_id) FROM {t} WHERE _load_id > ?",
                            [after]).fetchone()[0]
    if first is None:
        return None
    before = raw.execute(f"SELECT max(_load_id) FROM {t} WHERE _load_id < ?",
                         [first]).fetchone()[0]
    return first, before


def event_rows(raw, event: str, where: dict[str, Any], *, since: datetime | None,
               until: datetime, consumer_ids: list[str] | None = None,
               loads: tuple[str, str] | None = None) -> list[tuple[str, datetime, str]]:
    """``(consumer_id, at, ref)`` of events with time in ``(since, until]`` (all before
    ``until`` when ``since`` is None), optionally of some consumers only, in time order.
    ``loads=(after, upto)``: also the events up to ``until`` stored by the imports
    ``after < _load_id <= upto``, whatever their time (rows imported late)."""
    kind = EVENTS[event]
    if not _has(raw, kind.table) or not _has(raw, "identity_map"):
        return []
    preds, params = kind.predicates(where)
    preds.append(f"e.{kind.time_col} <= ?")
    params.append(until)
    if since is not None and loads is not None:
        preds.append(f"(e.{kind.time_col} > ? OR (e._load_id > ? AND e._load_id <= ?))")
        params += [since, *loads]
    elif since is not None:
        preds.append(f"e.{kind.time_col} > ?")
        params.append(since)
    join_ids = ""
    if consumer_ids is not None:
        if not consumer_ids:
            return []
        import pyarrow as pa

        raw.register("_act_ids", pa.table({"cid": pa.array(consumer_ids, pa.string())}))
        join_ids = "JOIN _act_ids x ON x.cid = m.consumer_id"
    text_col = ", e.text" if kind.table == "interactions" else ", NULL"
    sql = (f"SELECT m.consumer_id, e.{kind.time_col} AS ev_at, e.{kind.id_col} AS ev_ref"
           f"{text_col} "
           f"FROM {kind.table} e JOIN identity_map m ON m.key = e.consumer_key {join_ids} "
           f"WHERE {' AND '.join(preds)} ORDER BY ev_at, ev_ref")
    try:
        rows = raw.execute(sql, params).fetchall()
    finally:
        if consumer_ids is not None:
            raw.unregister("_act_ids")
    keep = kind.post_filter(where)
    if keep is not None and rows:
        flags = keep([r[3] for r in rows])
        rows = [r for r, f in zip(rows, flags, strict=True) if f]
    from siyu.activation.clock import utc

    return [(r[0], utc(r[1]), str(r[2])) for r in rows]


def _has(raw, table: str) -> bool:
    return bool(raw.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                            [table]).fetchone()[0])
