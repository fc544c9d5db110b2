"""离职继承: hand a departing guide's customers and open tasks to another guide.

The warehouse relationships are imported data and stay as they are; the handover writes an
override per customer (``guide_overrides``: while the warehouse still shows the old guide, the
customer is the new guide's) that assignment honours, moves the open tasks (each gets a
``handed_over`` event; done, skipped and expired tasks stay with the guide who closed them), and
keeps a record: ``guide_handovers`` (who, when, how many) and ``guide_handover_consumers``
(each customer and the guide they had).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update

from siyu.activation.assignment import effective_guide, store_of
from siyu.activation.tasks import INVITE, _event, local_midnight, place_invite
from siyu.errors import UsageError
from siyu.i18n import tr
from siyu.ops import audit
from siyu.ops.tables import (
    guide_handover_consumers,
    guide_handovers,
    guide_holders,
    guide_overrides,
    guide_roster,
    guide_tasks,
)

__all__ = ["handover", "handovers"]


def _customers(conn, guide: str) -> list[tuple[str, str]]:
    """``(consumer_id, warehouse holder)`` of every consumer whose guide is ``guide`` now."""
    cand = {r.consumer_id: r.guide_id for r in conn.execute(
        select(guide_holders.c.consumer_id, guide_holders.c.guide_id)
        .where(guide_holders.c.guide_id == guide))}
    for r in conn.execute(select(guide_overrides.c.consumer_id)
                          .where(guide_overrides.c.to_guide == guide)):
        h = conn.execute(select(guide_holders.c.guide_id)
                         .where(guide_holders.c.consumer_id == r.consumer_id)).scalar()
        cand.setdefault(r.consumer_id, h)
    out = []
    for cid in sorted(cand):
        g, _, _ = effective_guide(conn, cid)
        if g == guide:
            out.append((cid, cand[cid]))
    return out


def handover(ws, from_guide: str, to_guide: str, *, actor: str = "system",
             now: datetime | None = None) -> dict[str, Any]:
    """Move every customer and open task of ``from_guide`` to ``to_guide`` (who must be an
    active guide of the roster; run :func:`siyu.activation.assignment.refresh` first).
    Returns ``{"handover_id", "from", "to", "consumers", "tasks", "invites_deferred"}``."""
    now = now or datetime.now(UTC)
    if not from_guide or not to_guide:
        raise UsageError(tr("需要两位导购：FROM 与 TO", "two guides are needed: FROM and TO"))
    if from_guide == to_guide:
        raise UsageError(tr("不能把导购 {g} 的客户交接给自己", "cannot hand guide {g}'s "
                            "customers over to the same guide", g=from_guide))
    s = ws.settings
    with ws.ops.engine.begin() as conn:
        to = conn.execute(select(guide_roster.c.status)
                          .where(guide_roster.c.guide_id == to_guide)).first()
        if to is None:
            raise UsageError(tr("导购 {g} 不在导购名单中（先导入 guides）",
                                "guide {g} is not in the guide roster (import guides first)",
                                g=to_guide))
        if to.status != "active":
            raise UsageError(tr("导购 {g} 已离职，不能接收客户",
                                "guide {g} has left and cannot take customers", g=to_guide))
        known = conn.execute(select(guide_roster.c.guide_id)
                             .where(guide_roster.c.guide_id == from_guide)).first()
        has_tasks = conn.execute(select(guide_tasks.c.task_id)
                                 .where(guide_tasks.c.guide_id == from_guide).limit(1)).first()
        customers = _customers(conn, from_guide)
        if known is None and has_tasks is None and not customers:
            raise UsageError(tr("没有导购 {g}：名单、客户与任务中都找不到",
                                "no guide {g}: not in the roster, holding no customers and "
                                "no tasks", g=from_guide))
        hid = "h" + hashlib.sha256(f"{from_guide}\0{to_guide}\0{now.isoformat()}"
                                   .encode()).hexdigest()[:15]
        for cid, holder in customers:
            row = dict(from_guide=holder, to_guide=to_guide, handover_id=hid, at=now)
            if conn.execute(update(guide_overrides).where(guide_overrides.c.consumer_id == cid)
                            .values(**row)).rowcount == 0:
                conn.execute(guide_overrides.insert().values(consumer_id=cid, **row))
        if customers:
            conn.execute(guide_handover_consumers.insert(), [
                dict(handover_id=hid, consumer_id=cid, previous_guide=from_guide)
                for cid, _ in customers])
        tasks = conn.execute(select(guide_tasks.c.task_id, guide_tasks.c.kind,
                                    guide_tasks.c.invite_day, guide_tasks.c.available_at,
                                    guide_tasks.c.due_at)
                             .where(guide_tasks.c.guide_id == from_guide,
                                    guide_tasks.c.status == "open")
                             .order_by(guide_tasks.c.available_at, guide_tasks.c.task_id)).all()
        to_store = store_of(conn, to_guide)
        deferred = 0
        today = now.astimezone(s.zone).date()
        for t in tasks:
            values: dict[str, Any] = dict(guide_id=to_guide, store_id=to_store,
                                          assigned_by="handover")
            if t.kind == INVITE and t.invite_day is not None:
                # the invitation now counts against the new guide's daily limit
                was = t.invite_day
                day = place_invite(conn, to_guide, max(was, today), s.guide_daily_invites,
                                   exclude=t.task_id)
                values["invite_day"] = day
                if day != was:
                    shift = day - max(was, today)
                    values["available_at"] = local_midnight(day, s.zone)
                    values["due_at"] = t.due_at + shift
                    deferred += 1
            conn.execute(update(guide_tasks).where(guide_tasks.c.task_id == t.task_id)
                         .values(**values))
            _event(conn, t.task_id, now, "handed_over", to_guide, from_guide=from_guide,
                   handover_id=hid)
        conn.execute(guide_handovers.insert().values(
            handover_id=hid, from_guide=from_guide, to_guide=to_guide, at=now, actor=actor,
            consumers=len(customers), tasks=len(tasks)))
        result = {"handover_id": hid, "from": from_guide, "to": to_guide,
                  "consumers": len(customers), "tasks": len(tasks),
                  "invites_deferred": deferred}
        audit.record(ws.ops, actor, "guide_handover", from_guide,
                     {k: v for k, v in result.items() if k != "from"}, conn=conn)
    return result


def handovers(ops, guide: str | None = None) -> list[dict[str, Any]]:
    """Recorded handovers, newest first (optionally those from or to ``guide``)."""
    q = select(guide_handovers).order_by(guide_handovers.c.at.desc())
    if guide is not None:
        q = q.where((guide_handovers.c.from_guide == guide)
                    | (guide_handovers.c.to_guide == guide))
    with ops.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(q)]
