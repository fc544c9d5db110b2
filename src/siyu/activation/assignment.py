"""Who gets a guide task (导购任务分配, DOMAIN §4, seed 002 §2.1.5).

A task goes to the guide who holds the consumer's relationship: the guide of the consumer's
latest active ``guide`` relationship (``field_ref`` = guide id). When that guide has left
(离职) or there is none, a guide of the consumer's store takes it (fewest open tasks first),
then a pool guide (setting ``task_pool_guides``); with no pool the task waits unassigned.

The warehouse relationships are imported data, so :func:`refresh` copies what assignment needs
(each consumer's holder and store, the guide roster) into the operational store, where one
indexed lookup answers inside the caller's transaction. A handover (离职继承,
:mod:`siyu.activation.handover`) writes ``guide_overrides``: a handed-over consumer goes to the
new guide while the warehouse still shows the guide handed over from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import ibis
from sqlalchemy import Connection, bindparam, func, select

from siyu.ops.tables import (
    guide_holders,
    guide_overrides,
    guide_roster,
    guide_tasks,
)

__all__ = ["Assignment", "assign", "refresh", "refresh_if_stale", "last_refresh",
           "effective_guide", "fewest_open", "store_of"]

_CHUNK = 5_000


@dataclass(frozen=True)
class Assignment:
    guide_id: str | None
    store_id: str | None
    how: str
    """explicit | holder | handover | store | pool | unassigned"""


# Statements built once (the hot path of create_task runs them per task).
_ROSTER = select(guide_roster.c.store_id, guide_roster.c.status).where(
    guide_roster.c.guide_id == bindparam("g"))
_r1, _r2 = guide_roster.alias("r1"), guide_roster.alias("r2")
_HOLDER = (
    select(guide_holders.c.guide_id, guide_holders.c.store_id, guide_overrides.c.from_guide,
           guide_overrides.c.to_guide, _r1.c.store_id.label("h_store"),
           _r1.c.status.label("h_status"), _r2.c.store_id.label("t_store"),
           _r2.c.status.label("t_status"))
    .select_from(guide_holders
                 .outerjoin(guide_overrides,
                            guide_overrides.c.consumer_id == guide_holders.c.consumer_id)
                 .outerjoin(_r1, _r1.c.guide_id == guide_holders.c.guide_id)
                 .outerjoin(_r2, _r2.c.guide_id == guide_overrides.c.to_guide))
    .where(guide_holders.c.consumer_id == bindparam("c")))
_STORE_GUIDES = select(guide_roster.c.guide_id).where(
    guide_roster.c.store_id == bindparam("s"), guide_roster.c.status == "active")


def _roster(conn: Connection, guide_id: str):
    return conn.execute(_ROSTER, {"g": guide_id}).first()


def store_of(conn: Connection, guide_id: str) -> str | None:
    r = _roster(conn, guide_id)
    return r.store_id if r else None


def fewest_open(conn: Connection, guides: list[str]) -> str | None:
    """The guide of ``guides`` with the fewest open tasks (ties: smallest id)."""
    if not guides:
        return None
    counts = dict(conn.execute(
        select(guide_tasks.c.guide_id, func.count())
        .where(guide_tasks.c.guide_id.in_(guides), guide_tasks.c.status == "open")
        .group_by(guide_tasks.c.guide_id)).all())
    return min(sorted(set(guides)), key=lambda g: counts.get(g, 0))


def _holding(conn: Connection, consumer_id: str):
    """``(guide, store, how, status)`` of the consumer's holder, handovers applied; status is
    the guide's roster status (None when the guide is not in the roster)."""
    h = conn.execute(_HOLDER, {"c": consumer_id}).first()
    if h is None:
        return None, None, "none", None
    if h.guide_id is None:
        return None, h.store_id, "none", None
    if h.to_guide is not None and h.from_guide == h.guide_id:
        return h.to_guide, h.t_store or h.store_id, "handover", h.t_status
    return h.guide_id, h.h_store or h.store_id, "holder", h.h_status


def effective_guide(conn: Connection, consumer_id: str) -> tuple[str | None, str | None, str]:
    """``(guide, store, how)``: who holds the consumer now, handovers applied (``how`` is
    ``holder``, ``handover`` or ``none``), whether or not that guide is still active."""
    return _holding(conn, consumer_id)[:3]


def assign(conn: Connection, consumer_id: str, pool: list[str]) -> Assignment:
    """The guide a new task about ``consumer_id`` goes to (see the module docstring)."""
    guide, store, how, status = _holding(conn, consumer_id)
    if guide is not None and status != "left":  # a guide missing from the roster is active
        return Assignment(guide, store, how)
    if store is not None:
        active = [g for (g,) in conn.execute(_STORE_GUIDES, {"s": store})]
        g = fewest_open(conn, active)
        if g is not None:
            return Assignment(g, store, "store")
    g = fewest_open(conn, list(pool))
    if g is not None:
        return Assignment(g, store_of(conn, g) or store, "pool")
    return Assignment(None, store, "unassigned")


# -- refresh from the warehouse -----------------------------------------------------------------

def _holders(src, at: datetime) -> ibis.Table:
    """``(consumer_id, guide_id, store_id)`` at instant ``at``: the guide of the latest active
    ``guide`` relationship (its store from the roster), else the latest active ``store``
    relationship's store, else the store of the latest paid order before ``at``."""
    from siyu.models.relationships import active_at

    lit = ibis.literal(at, "timestamp('UTC')")
    s = src.stretches
    act = s.filter(active_at(s, lit), s.field_ref != "")

    def latest(t: ibis.Table, value, order) -> ibis.Table:
        w = ibis.window(group_by=t.consumer_id, order_by=order)
        t = t.mutate(v=value, rn=ibis.row_number().over(w))
        return t.filter(t.rn == 0).select("consumer_id", "v")

    g = act.filter(act.field == "guide")
    guide = latest(g, g.field_ref, [ibis.desc(g.started_at), ibis.desc(g.field_ref)])
    st = act.filter(act.field == "store")
    store_rel = latest(st, st.field_ref, [ibis.desc(st.started_at), ibis.desc(st.field_ref)])
    o = src.paid_orders
    o = o.filter(o.paid_at < lit, o.store_id.notnull())
    store_ord = latest(o, o.store_id, [ibis.desc(o.paid_at), ibis.desc(o.order_id)])
    ids = ibis.union(guide.select("consumer_id"), store_rel.select("consumer_id"),
                     store_ord.select("consumer_id"), distinct=True)
    r = roster(src, at).select(r_guide="guide_id", r_store="store_id")
    t = (ids.left_join(guide.rename(guide_id="v"), "consumer_id").drop("consumer_id_right")
         .left_join(store_rel.rename(rel_store="v"), "consumer_id").drop("consumer_id_right")
         .left_join(store_ord.rename(ord_store="v"), "consumer_id").drop("consumer_id_right"))
    t = t.left_join(r, t.guide_id == r.r_guide)
    return t.select("consumer_id", "guide_id",
                    store_id=ibis.coalesce(t.r_store, t.rel_store, t.ord_store))


def roster(src, at: datetime) -> ibis.Table:
    """``(guide_id, store_id, status)``: the latest ``guides`` row of each guide; a guide whose
    ``left_at`` is before ``at`` has left whatever the status column says."""
    g = src.table("guides")
    w = ibis.window(group_by=g.guide_id, order_by=[ibis.desc(g._load_id), ibis.desc(g._line)])
    g = g.mutate(rn=ibis.row_number().over(w))
    g = g.filter(g.rn == 0)
    lit = ibis.literal(at, "timestamp('UTC')")
    left = (g.status == "left") | (g.left_at.notnull() & (g.left_at <= lit))
    return g.select("guide_id", "store_id", status=ibis.ifelse(left, "left", "active"))


def refresh(ws, at: datetime | None = None, src=None) -> dict[str, int]:
    """Copy the guide roster and every consumer's holder and store at instant ``at`` (default:
    now) from the warehouse into the operational store. Returns ``{"guides", "consumers",
    "held"}`` (held: consumers with a guide)."""
    from siyu.models.sources import Sources

    at = at or datetime.now(UTC)
    src = src or Sources.of(ws)
    ros = roster(src, at).to_pyarrow().to_pylist()
    hol = _holders(src, at).to_pyarrow().to_pylist()
    now = datetime.now(UTC)
    with ws.ops.engine.begin() as conn:
        conn.execute(guide_roster.delete())
        if ros:
            conn.execute(guide_roster.insert(), [{**r, "synced_at": now} for r in ros])
        conn.execute(guide_holders.delete())
        for i in range(0, len(hol), _CHUNK):
            conn.execute(guide_holders.insert(),
                         [{**r, "synced_at": now} for r in hol[i:i + _CHUNK]])
    return {"guides": len(ros), "consumers": len(hol),
            "held": sum(1 for r in hol if r["guide_id"] is not None)}


def last_refresh(ops) -> datetime | None:
    """When :func:`refresh` last ran (None: never)."""
    with ops.engine.connect() as conn:
        got = [conn.execute(select(func.max(t.c.synced_at))).scalar()
               for t in (guide_holders, guide_roster)]
    got = [g.replace(tzinfo=UTC) if g.tzinfo is None else g for g in got if g is not None]
    return max(got) if got else None


def refresh_if_stale(ws, at: datetime | None = None, sources=None) -> dict[str, int] | None:
    """:func:`refresh` when an import or an identity resolution finished after the last
    refresh (or there was none); None when nothing changed or OneID never ran. Cheap enough
    for every engine pass: two small queries when fresh, and the warehouse is not opened.
    ``sources``: a callable returning the :class:`~siyu.models.sources.Sources` to read
    (the engine passes its read-only warehouse; default: the workspace's)."""
    from siyu.ops.tables import identity_runs, import_runs

    last = last_refresh(ws.ops)
    with ws.ops.engine.connect() as conn:
        changed = [conn.execute(select(func.max(t.c.finished_at)).where(t.c.status == "done"))
                   .scalar() for t in (import_runs, identity_runs)]
    if changed[1] is None:
        return None  # nothing to assign before OneID ran (and the warehouse stays closed)
    changed = [c.replace(tzinfo=UTC) if c.tzinfo is None else c for c in changed if c]
    if last is not None and all(c <= last for c in changed):
        return None
    return refresh(ws, at, sources() if sources is not None else None)
