"""Shopping-guide tasks (导购任务, seed 002 §2.1.5: HQ sets the strategy, guides receive tasks,
act 1v1 and report back).

A task asks one guide to do one thing for one consumer — a birthday greeting, a
15-days-after-purchase invitation, a follow-up — with a due time and a script. Its status goes
``open`` → ``done`` (with the guide's result) | ``skipped`` (with a reason) | ``expired`` (left
open too long past its due time). Every change is an event in ``guide_task_events``, so a
task's history survives handovers.

:func:`create_task` is the one way tasks are made: HQ rules (:mod:`siyu.activation.task_rules`)
and the journey engine's "create a guide task" and "hand over to a human" actions call it inside
their own transaction. It is idempotent on ``idempotency_key``.

Friend invitations (kind ``invite``) count against the guide's daily limit (DOMAIN §13, setting
``guide_daily_invites``): one beyond it waits for the next brand-local day with room — its
``available_at`` and ``due_at`` move by whole days and a ``deferred`` event records why.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, and_, bindparam, case, func, select, update

from siyu.activation.assignment import Assignment, assign, store_of
from siyu.errors import SiyuError, UsageError
from siyu.i18n import tr
from siyu.ops.tables import guide_task_events, guide_tasks

__all__ = ["create_task", "complete", "skip", "expire", "list_tasks", "get_task", "history",
           "stats", "TaskNotFound", "TaskClosed", "INVITE", "STATUSES", "place_invite",
           "local_midnight", "task_id_for"]

INVITE = "invite"
"""The kind of friend-invitation tasks (the daily limit applies to them)."""
STATUSES = ("open", "done", "skipped", "expired")
_KIND = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_MAX_DAYS_AHEAD = 3660


class TaskNotFound(UsageError):
    """No task with that id."""


class TaskClosed(SiyuError):
    """The task is no longer open."""


def _aware(t: datetime, name: str) -> datetime:
    if not isinstance(t, datetime):
        raise UsageError(tr("任务字段 {f} 应为时间", "task field {f}: expected a datetime", f=name))
    if t.tzinfo is None:
        raise UsageError(tr("任务字段 {f} 缺少时区", "task field {f}: needs a time zone", f=name))
    return t.astimezone(UTC)


def _text(v: Any, name: str, limit: int, required: bool = True) -> str | None:
    if v is None and not required:
        return None
    if not isinstance(v, str) or (required and not v.strip()):
        raise UsageError(tr("任务字段 {f} 不能为空", "task field {f}: must be non-empty text",
                            f=name))
    if len(v) > limit:
        raise UsageError(tr("任务字段 {f} 超过 {n} 个字符", "task field {f}: longer than {n} "
                            "characters", f=name, n=limit))
    return v


def task_id_for(idempotency_key: str) -> str:
    """Task ids are derived from the idempotency key: the same request makes the same id."""
    return "t" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:15]


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


_BY_KEY = select(guide_tasks.c.task_id).where(guide_tasks.c.idempotency_key == bindparam("k"))
_INVITES = (select(guide_tasks.c.invite_day, func.count())
            .where(guide_tasks.c.guide_id == bindparam("g"), guide_tasks.c.kind == INVITE,
                   guide_tasks.c.invite_day >= bindparam("d"),
                   guide_tasks.c.status != "skipped", guide_tasks.c.task_id != bindparam("x"))
            .group_by(guide_tasks.c.invite_day))
_EVENT = guide_task_events.insert()
_INSERT: dict[str, Any] = {}


def place_invite(conn: Connection, guide_id: str, earliest: date, limit: int,
                 exclude: str | None = None) -> date:
    """The first brand-local day from ``earliest`` on which ``guide_id`` has fewer than
    ``limit`` invitations (tasks of kind ``invite`` that are not skipped)."""
    rows = conn.execute(_INVITES, {"g": guide_id, "d": earliest, "x": exclude or ""}).all()
    used = {d if isinstance(d, date) else date.fromisoformat(str(d)): n for d, n in rows}
    day = earliest
    while used.get(day, 0) >= limit:
        day += timedelta(days=1)
    return day


def _event(conn: Connection, task_id: str, at: datetime, event: str, guide_id: str | None,
           **detail: Any) -> None:
    conn.execute(_EVENT, {"task_id": task_id, "at": at, "event": event, "guide_id": guide_id,
                          "detail": detail})


def _insert_ignore(conn: Connection, row: dict[str, Any]) -> bool:
    """Insert unless the idempotency key (or id) exists — race-free on SQLite and PostgreSQL;
    whether the row was inserted."""
    name = conn.dialect.name
    stmt = _INSERT.get(name)
    if stmt is None:
        if name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        stmt = _INSERT[name] = insert(guide_tasks).on_conflict_do_nothing()
    return conn.execute(stmt, row).rowcount == 1


def create_task(conn: Connection, *, consumer_id: str, kind: str, title: str,
                script: str | None, due_at: datetime, source: str, idempotency_key: str,
                guide_id: str | None = None, settings=None, now: datetime | None = None) -> str:
    """Create a task (inside ``conn``'s transaction) and return its id; a second call with the
    same ``idempotency_key`` returns the first task's id and changes nothing.

    ``guide_id`` None: the guide holding the consumer's relationship, else a guide of their
    store, else the pool (:func:`siyu.activation.assignment.assign`). ``settings`` gives the
    brand zone, the daily invitation limit and the pool (default: the built-in defaults);
    ``now`` is the creation instant (default: the clock; the journey engine passes its
    simulated time)."""
    idem = _text(idempotency_key, "idempotency_key", 200)
    tid = task_id_for(idem)
    got = conn.execute(_BY_KEY, {"k": idem}).scalar()
    if got is not None:
        return got
    _text(consumer_id, "consumer_id", 64)
    if not isinstance(kind, str) or not _KIND.match(kind):
        raise UsageError(tr("任务类型 {k!r} 无效：应为小写字母、数字、下划线，至多 32 个",
                            "task kind {k!r}: expected lower-case letters, digits, _ "
                            "(at most 32)", k=kind))
    _text(title, "title", 200)
    _text(script, "script", 4000, required=False)
    _text(source, "source", 128)
    due = _aware(due_at, "due_at")
    if settings is None:
        from siyu.config import load_settings

        settings = load_settings(None)
    now = _aware(now, "now") if now is not None else datetime.now(UTC)
    if due > now + timedelta(days=_MAX_DAYS_AHEAD):
        raise UsageError(tr("任务截止时间过远：{d}", "task due_at too far ahead: {d}", d=due))
    if guide_id is not None:
        _text(guide_id, "guide_id", 64)
        a = Assignment(guide_id, store_of(conn, guide_id), "explicit")
    else:
        a = assign(conn, consumer_id, settings.task_pool_guides)
    zone = settings.zone
    available, invite_day, deferred = now, None, 0
    if kind == INVITE and a.guide_id is not None:
        today = now.astimezone(zone).date()
        invite_day = place_invite(conn, a.guide_id, today, settings.guide_daily_invites)
        deferred = (invite_day - today).days
        if deferred:
            available = local_midnight(invite_day, zone)
            due = due + timedelta(days=deferred)
    if not _insert_ignore(conn, dict(
        task_id=tid, idempotency_key=idem, consumer_id=consumer_id, guide_id=a.guide_id,
        store_id=a.store_id, assigned_by=a.how, kind=kind, title=title, script=script,
        source=source, status="open", created_at=now, available_at=available, due_at=due,
        invite_day=invite_day)):  # pragma: no cover - a concurrent writer stored it first
        return conn.execute(_BY_KEY, {"k": idem}).scalar()
    _event(conn, tid, now, "created", a.guide_id, assigned_by=a.how, source=source)
    if deferred:
        _event(conn, tid, now, "deferred", a.guide_id, reason="guide_daily_invites",
               limit=settings.guide_daily_invites, until=invite_day.isoformat())
    return tid


# -- guides act on tasks ----------------------------------------------------------------------

def _open_task(conn: Connection, task_id: str):
    row = conn.execute(select(guide_tasks).where(guide_tasks.c.task_id == task_id)
                       .with_for_update()).first()
    if row is None:
        raise TaskNotFound(tr("没有任务 {t}", "no task {t}", t=task_id))
    if row.status != "open":
        raise TaskClosed(tr("任务 {t} 已是 {s} 状态，不能再更改",
                            "task {t} is already {s}; it cannot change", t=task_id,
                            s=row.status))
    return row


def _close(ops, task_id: str, status: str, result: str | None, now: datetime | None,
           actor: str | None) -> dict[str, Any]:
    now = _aware(now, "now") if now is not None else datetime.now(UTC)
    with ops.engine.begin() as conn:
        row = _open_task(conn, task_id)
        conn.execute(update(guide_tasks).where(guide_tasks.c.task_id == task_id)
                     .values(status=status, result=result, closed_at=now))
        _event(conn, task_id, now, status, row.guide_id, actor=actor)
    return get_task(ops, task_id)


def complete(ops, task_id: str, result: str | None = None, *, now: datetime | None = None,
             actor: str | None = None) -> dict[str, Any]:
    """Mark an open task done with the guide's result (free text)."""
    _text(result, "result", 2000, required=False)
    return _close(ops, task_id, "done", result or None, now, actor)


def skip(ops, task_id: str, reason: str, *, now: datetime | None = None,
         actor: str | None = None) -> dict[str, Any]:
    """Mark an open task skipped; the reason is required."""
    _text(reason, "reason", 2000)
    return _close(ops, task_id, "skipped", reason, now, actor)


def expire(conn: Connection, now: datetime, expire_days: int) -> int:
    """Expire open tasks whose due time is more than ``expire_days`` days before ``now``;
    returns how many."""
    cutoff = _aware(now, "now") - timedelta(days=expire_days)
    rows = conn.execute(select(guide_tasks.c.task_id, guide_tasks.c.guide_id)
                        .where(guide_tasks.c.status == "open",
                               guide_tasks.c.due_at < cutoff)).all()
    if rows:
        conn.execute(update(guide_tasks)
                     .where(guide_tasks.c.task_id.in_([r.task_id for r in rows]))
                     .values(status="expired", closed_at=now))
        conn.execute(guide_task_events.insert(), [
            dict(task_id=r.task_id, at=now, event="expired", guide_id=r.guide_id,
                 detail={"expire_days": expire_days}) for r in rows])
    return len(rows)


# -- reading ------------------------------------------------------------------------------------

def _utc(t):
    return t.replace(tzinfo=UTC) if t is not None and t.tzinfo is None else t


def _row(r, now: datetime) -> dict[str, Any]:
    d = dict(r._mapping)
    for k in ("created_at", "available_at", "due_at", "closed_at"):
        d[k] = _utc(d[k])
    if d["invite_day"] is not None and not isinstance(d["invite_day"], date):
        d["invite_day"] = date.fromisoformat(str(d["invite_day"]))
    d["overdue"] = d["status"] == "open" and d["due_at"] < now
    return d


def get_task(ops, task_id: str, now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    with ops.engine.connect() as conn:
        r = conn.execute(select(guide_tasks).where(guide_tasks.c.task_id == task_id)).first()
    if r is None:
        raise TaskNotFound(tr("没有任务 {t}", "no task {t}", t=task_id))
    return _row(r, now)


def history(ops, task_id: str) -> list[dict[str, Any]]:
    """The task's events, oldest first."""
    with ops.engine.connect() as conn:
        rows = conn.execute(select(guide_task_events)
                            .where(guide_task_events.c.task_id == task_id)
                            .order_by(guide_task_events.c.id)).all()
    return [{**dict(r._mapping), "at": _utc(r.at)} for r in rows]


def list_tasks(ops, *, guide: str | None = None, store: str | None = None,
               status: str | None = None, unassigned: bool = False,
               now: datetime | None = None, waiting: bool = False,
               limit: int | None = None) -> list[dict[str, Any]]:
    """Tasks by due time (then id). Open tasks not yet available (invitations waiting for a
    later day) are left out unless ``waiting``."""
    if status is not None and status not in STATUSES:
        raise UsageError(tr("状态 {s!r} 无效，可选：{c}", "status {s!r}: expected one of {c}",
                            s=status, c=", ".join(STATUSES)))
    now = now or datetime.now(UTC)
    q = select(guide_tasks)
    if guide is not None:
        q = q.where(guide_tasks.c.guide_id == guide)
    if unassigned:
        q = q.where(guide_tasks.c.guide_id.is_(None))
    if store is not None:
        q = q.where(guide_tasks.c.store_id == store)
    if status is not None:
        q = q.where(guide_tasks.c.status == status)
    if not waiting:
        q = q.where((guide_tasks.c.status != "open") | (guide_tasks.c.available_at <= now))
    q = q.order_by(guide_tasks.c.due_at, guide_tasks.c.task_id)
    if limit:
        q = q.limit(limit)
    with ops.engine.connect() as conn:
        return [_row(r, now) for r in conn.execute(q)]


def stats(ops, *, by: str = "guide", guide: str | None = None, store: str | None = None,
          now: datetime | None = None) -> list[dict[str, Any]]:
    """Per guide (``by="guide"``) or store: open, waiting, done, skipped, expired, overdue and
    the completion rate = done ÷ (done + skipped + expired + overdue) — the tasks whose time
    has come; open tasks not yet due count nowhere (None when nothing has come due)."""
    if by not in ("guide", "store"):
        raise UsageError(tr("--by 只能是 guide 或 store", "--by: expected guide or store"))
    now = now or datetime.now(UTC)
    key = guide_tasks.c.guide_id if by == "guide" else guide_tasks.c.store_id
    t = guide_tasks.c
    is_open = t.status == "open"

    def n(cond):
        return func.sum(case((cond, 1), else_=0))

    q = select(key.label("key"),
               n(and_(is_open, t.available_at <= now)).label("open"),
               n(and_(is_open, t.available_at > now)).label("waiting"),
               n(t.status == "done").label("done"),
               n(t.status == "skipped").label("skipped"),
               n(t.status == "expired").label("expired"),
               n(and_(is_open, t.due_at < now)).label("overdue")).group_by(key).order_by(key)
    if guide is not None:
        q = q.where(t.guide_id == guide)
    if store is not None:
        q = q.where(t.store_id == store)
    out = []
    with ops.engine.connect() as conn:
        for r in conn.execute(q):
            d = {by: r.key, **{k: int(getattr(r, k) or 0) for k in
                               ("open", "waiting", "done", "skipped", "expired", "overdue")}}
            came_due = d["done"] + d["skipped"] + d["expired"] + d["overdue"]
            d["completion_rate"] = round(d["done"] / came_due, 4) if came_due else None
            out.append(d)
    return out
