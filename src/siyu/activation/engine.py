"""The durable journey engine on the operational store.

* :func:`enrol_many` enrols consumers (re-entry policy applied; the enrolment id is derived
  from journey, consumer and triggering row, so a row never enrols twice).
* :func:`claim` leases due enrolments to one worker — ``SELECT … FOR UPDATE SKIP LOCKED`` on
  PostgreSQL, a conditional lease update on SQLite — and :func:`process` advances them: one
  transaction per batch re-checks the lease (row locks on PostgreSQL, the write lock on
  SQLite), runs each enrolment's steps due at its logical time, and writes the new states,
  the step log, outbox rows, coupon grants, guide tasks and cap counters together. A crash
  anywhere loses the whole transaction, and the re-run produces the same idempotency keys.
  An enrolment whose step fails part-way leaves nothing of it: what its steps wrote directly
  sits in a SAVEPOINT of its own (opened on first use, :attr:`Env.conn`), rolled back with
  its outbox, coupon and log rows and its counted sends; it is marked ``failed`` with the
  error and the rest of the batch goes on. On PostgreSQL the claim is a ``WITH picked AS
  (SELECT … LIMIT n FOR UPDATE SKIP LOCKED) UPDATE … FROM picked`` (at most n rows).
* :func:`run_pass` = triggers, then claim/process until nothing is due.

Logical time: a step runs "at" its enrolment's ``next_step_at`` (not at the wall clock), so a
simulated clock (``siyu run --until``) and a late worker give the same answers — except for
lateness (:attr:`Env.current`, setting ``journey_late_limit``): a send or webhook reached more
than the limit after its time is suppressed as ``too_late``, and what a late step does counts
on the day it is actually done (caps, consent, quiet hours, the invitation limit).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, String, or_, select, text, type_coerce

from siyu.activation.bulk import insert_rows, update_rows
from siyu.activation.clock import now_utc, utc
from siyu.activation.definition import Journey
from siyu.ops.tables import (
    coupon_grants,
    journey_enrolments,
    journey_log,
    journeys,
    outbox,
)

__all__ = ["Env", "enrol_many", "claim", "process", "claim_and_process", "run_pass",
           "scan_triggers",
           "enrolment_id", "default_worker_id", "late_limit"]

E = journey_enrolments
MAX_STEPS_AT_ONCE = 100


def late_limit(settings) -> timedelta | None:
    """The setting ``journey_late_limit`` as a duration; None when off (``0`` / ``off``)."""
    from siyu.activation.clock import parse_duration

    v = str(settings.journey_late_limit).strip().lower()
    d = None if v in ("0", "off") else parse_duration(v)
    return d if d else None


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def enrolment_id(journey: str, consumer_id: str, ref: str) -> str:
    return hashlib.sha1(f"{journey}\x1f{consumer_id}\x1f{ref}".encode()).hexdigest()[:32]


# -- the warehouse and per-batch state ------------------------------------------------------

class Env:
    """What one engine pass shares: settings, the warehouse (opened read-only on first use,
    or the workspace's own connection when it is already open in this process), and the
    state of the batch being processed."""

    def __init__(self, ws, worker_id: str | None = None):
        self.ws = ws
        self.settings = ws.settings
        self.zone = ws.settings.zone
        self.worker_id = worker_id or default_worker_id()
        self._raw = None
        self._own = None
        self._ibis = None
        self._tables: set[str] | None = None
        self._conn = None
        self._sp = None  # the savepoint of the enrolment whose steps are running
        self._within = False
        self.lookback = False  # the real clock (siyu worker): triggers follow the imports
        self.floor: datetime | None = None
        self.loads_after: str | None = None  # the journey's import cursor (real clock)
        self.loads_upto: str | None = None  # where an event trigger's read ended
        self.loads_hold: str | None = None  # below the first import OneID has yet to map
        self._oneid_mark: str | None = None
        self.current: datetime | None = None  # the engine's "now" for lateness (run_pass)
        self.late_limit = late_limit(self.settings)

    def stale_before(self) -> datetime | None:
        """Instants before this are too late to act on (None: nothing is): the engine's
        current time minus ``journey_late_limit``."""
        if self.current is None or self.late_limit is None:
            return None
        return self.current - self.late_limit

    def keep_day(self, start: datetime, ahead: int = 0) -> bool:
        """Whether a daily trigger reads the brand-local day beginning at ``start`` — a day
        missed while the engine was not running is caught up only while the date it is about
        (``ahead`` days later: the birthday, the expiry day, the due day) began at most
        ``journey_late_limit`` before now."""
        cut = self.stale_before()
        if cut is None:
            return True
        from siyu.activation.clock import local_day

        d = local_day(start, self.zone) + timedelta(days=ahead)
        return datetime.combine(d, datetime.min.time(), tzinfo=self.zone) >= cut

    def oneid_mark(self) -> str:
        """A load id below which every import has been through OneID: the start of the
        latest done OneID run as a load id (``L%Y%m%dT%H%M%S%f``); "" before the first."""
        if self._oneid_mark is None:
            from siyu.identity.runs import last_run

            run = last_run(self.ws.ops)
            self._oneid_mark = "" if run is None else \
                "L" + utc(run["started_at"]).strftime("%Y%m%dT%H%M%S%f")
        return self._oneid_mark

    def lookback_from(self, since: datetime) -> datetime:
        """``since``, or (real clock) the start of the look-back window before it — never
        before the journey was deployed: audience triggers re-read from here; an event row
        imported late enters at its own time when after this, else when read."""
        if not self.lookback:
            return since
        back = since - timedelta(hours=self.settings.journey_trigger_lookback_hours)
        return max(back, self.floor) if self.floor is not None else back

    # warehouse
    def raw(self):
        if self._raw is None:
            if "warehouse" in self.ws.__dict__:
                self._raw = self.ws.warehouse.raw
            elif self.ws.warehouse_path.exists():
                import duckdb

                from siyu.warehouse import Warehouse

                try:
                    self._own = Warehouse(self.ws.warehouse_path, self.settings, read_only=True)
                    self._raw = self._own.raw
                except duckdb.ConnectionException:  # open read-write in this process already
                    self._raw = self.ws.warehouse.raw
            else:
                return None
        return self._raw

    def ibis(self):
        if self._ibis is None:
            self.raw()
            self._ibis = self._own.ibis if self._own is not None else self.ws.warehouse.ibis
        return self._ibis

    def has_table(self, name: str) -> bool:
        if self._tables is None:
            raw = self.raw()
            self._tables = set() if raw is None else {
                r[0] for r in raw.execute("SELECT table_name FROM information_schema.tables")
                .fetchall()}
        return name in self._tables

    def close(self) -> None:
        if self._own is not None:
            self._own.close()
        self._own = self._raw = self._ibis = None
        self._tables = None

    # batch
    def begin_batch(self, conn, rows: list[dict]) -> None:
        from siyu.activation.consent import OpsConsents, warehouse_consents
        from siyu.activation.guardrails import Caps

        self._conn = conn
        self.ids = sorted({r["consumer_id"] for r in rows})
        self.until = max(utc(r["next_step_at"]) for r in rows)
        self.caps = Caps(conn, self.ids, self.settings)
        self.ops_consents = OpsConsents(conn, self.ids)
        self.wh_consents = (warehouse_consents(self.raw(), self.ids)
                            if self.has_table("consents") else {})
        self._events: dict[str, dict[str, list[datetime]]] = {}
        self._audiences: dict[tuple[str, Any], set[str]] = {}
        self._fields: dict[str, dict[str, Any]] | None = None
        self._keys: dict[str, dict[str, str]] | None = None
        self.out_rows: list[dict] = []
        self.log_rows: list[dict] = []
        self.coupon_rows: list[dict] = []

    @property
    def conn(self):
        """The batch transaction's connection. While an enrolment's steps run (between
        :meth:`start` and :meth:`finish`), the first use opens a SAVEPOINT for it, so what its
        steps wrote directly (guide tasks, invitation counters, manual tags, audit entries)
        is undone with it when a later step fails; enrolments that only send, wait or branch
        never touch the store mid-step and pay nothing for it."""
        if self._within and self._sp is None:
            self._sp = self._conn.begin_nested()
        return self._conn

    def start(self) -> None:
        """An enrolment's steps begin: remember where the batch's rows and counters stand."""
        self._within, self._sp = True, None
        self._mark = (len(self.log_rows), len(self.out_rows), len(self.coupon_rows),
                      self.caps.mark())

    def finish(self, ok: bool) -> None:
        """The enrolment's steps ended: keep what they did, or (``ok`` False) drop all of it —
        the savepoint's writes, its outbox, coupon and log rows, and the sends it counted."""
        sp, self._sp, self._within = self._sp, None, False
        if ok:
            if sp is not None:
                sp.commit()
            return
        if sp is not None:
            sp.rollback()
        logs, outs, coupons, caps = self._mark
        del self.log_rows[logs:], self.out_rows[outs:], self.coupon_rows[coupons:]
        self.caps.undo(caps)

    def event_times(self, event: str, where: dict, consumer_id: str) -> list[datetime]:
        k = json.dumps([event, where], sort_keys=True)
        got = self._events.get(k)
        if got is None:
            from siyu.activation.events import event_rows

            got = {}
            raw = self.raw()
            if raw is not None:
                for cid, at, _ref in event_rows(raw, event, where, since=None, until=self.until,
                                                consumer_ids=self.ids):
                    got.setdefault(cid, []).append(at)
            self._events[k] = got
        return got.get(consumer_id, [])

    def audience_members(self, expr: str, at: datetime) -> set[str]:
        day = at.astimezone(self.zone).date()
        k = (expr, day)
        if k not in self._audiences:
            from siyu.audience.compile import compile_audience
            from siyu.audience.parse import parse
            from siyu.models.sources import Sources

            t = compile_audience(Sources(self.ibis(), self.settings), parse(expr), day)
            self._audiences[k] = set(t.to_pyarrow()["consumer_id"].to_pylist())
        return self._audiences[k]

    def last_send_unread(self, ctx) -> bool:
        r = self.conn.execute(select(outbox.c.read_at).where(
            outbox.c.enrolment_id == ctx.enrolment_id).order_by(outbox.c.id.desc()).limit(1)
        ).first()
        return r is not None and r[0] is None

    def guard(self, ctx, channel: str, purpose: str) -> str | None:
        """Consent and caps at the instant the send is actually queued (:meth:`Ctx.done_at`):
        a send made late counts on the real day, not its scheduled one."""
        from siyu.activation.consent import decide

        cid, at = ctx.consumer_id, ctx.done_at()
        if not decide(self.wh_consents.get(cid, []), self.ops_consents.of(cid), purpose,
                      channel, at, self.settings.consent_model):
            return "consent"
        if purpose == "marketing":
            return self.caps.take(cid, channel, at)
        return None

    def _load_people(self) -> None:
        self._fields, self._keys = {}, {}
        raw = self.raw()
        if raw is None or not self.has_table("identity_map"):
            return
        import pyarrow as pa

        raw.register("_act_people", pa.table({"cid": pa.array(self.ids, pa.string())}))
        try:
            if self.has_table("consumers"):
                for cid, name, gender, city, prov, bday in raw.execute(
                        "SELECT m.consumer_id, arg_max(c.name, c._load_id), "
                        "arg_max(c.gender, c._load_id), arg_max(c.city, c._load_id), "
                        "arg_max(c.province, c._load_id), arg_max(c.birthday, c._load_id) "
                        "FROM consumers c JOIN identity_map m ON m.key = c.consumer_key "
                        "JOIN _act_people x ON x.cid = m.consumer_id GROUP BY 1").fetchall():
                    self._fields[cid] = {"name": name, "gender": gender, "city": city,
                                         "province": prov,
                                         "birthday": bday.isoformat() if bday else None}
            if self.has_table("order_items"):
                for cid, cat in raw.execute(
                        "SELECT m.consumer_id, arg_max(i.category, o.paid_at) FROM orders o "
                        "JOIN order_items i ON i.order_id = o.order_id JOIN identity_map m ON "
                        "m.key = o.consumer_key JOIN _act_people x ON x.cid = m.consumer_id "
                        "WHERE o.status = 'paid' AND o.paid_at <= ? GROUP BY 1",
                        [self.until]).fetchall():
                    self._fields.setdefault(cid, {})["last_category"] = cat
            if self.has_table("interactions"):
                for cid, cat in raw.execute(
                        "SELECT m.consumer_id, arg_max(json_extract_string(i.attrs, "
                        "'$.category'), i.occurred_at) FROM interactions i JOIN identity_map m "
                        "ON m.key = i.consumer_key JOIN _act_people x ON x.cid = m.consumer_id "
                        "WHERE i.type = 'click' AND i.occurred_at <= ? AND "
                        "json_extract_string(i.attrs, '$.category') IS NOT NULL GROUP BY 1",
                        [self.until]).fetchall():
                    self._fields.setdefault(cid, {})["clicked_category"] = cat
            for cid, key in raw.execute(
                    "SELECT m.consumer_id, m.key FROM identity_map m JOIN _act_people x ON "
                    "x.cid = m.consumer_id ORDER BY m.key").fetchall():
                typ, _, value = key.partition(":")
                self._keys.setdefault(cid, {}).setdefault(typ, value)
        finally:
            raw.unregister("_act_people")

    def fields_of(self, consumer_id: str) -> dict[str, Any]:
        if self._fields is None:
            self._load_people()
        return self._fields.get(consumer_id, {})

    def trigger_category(self, ref: str) -> str | None:
        """The product category of what enrolled the consumer: the due cycle's category
        (``cycle:<category>:<day>``), or the order's main category (its line with the largest
        amount, ties by name) for ``order:<order_id>``; None for other triggers."""
        kind, _, rest = (ref or "").partition(":")
        if kind == "cycle":
            return rest.rpartition(":")[0] or None
        if kind != "order":
            return None
        cache = self.__dict__.setdefault("_order_cats", {})
        if rest not in cache:
            raw = self.raw()
            got = None
            if raw is not None and self.has_table("order_items"):
                got = raw.execute(
                    "SELECT category FROM order_items WHERE order_id = ? AND category IS NOT "
                    "NULL AND category <> '' GROUP BY category ORDER BY "
                    "sum(coalesce(quantity, 1) * coalesce(unit_price, 0)) DESC, category "
                    "LIMIT 1", [rest]).fetchone()
            cache[rest] = got[0] if got else None
        return cache[rest]

    KEY_FOR_CHANNEL = {"wecom": "wecom", "sms": "phone", "official_account": "openid",
                       "miniprogram": "openid", "email": "email"}

    def recipient(self, consumer_id: str, channel: str) -> str | None:
        typ = self.KEY_FOR_CHANNEL.get(channel)
        if typ is None:
            return consumer_id
        if self._keys is None:
            self._load_people()
        return self._keys.get(consumer_id, {}).get(typ)

    def unreachable(self, consumer_id: str, channel: str) -> bool:
        """True when the channel needs a key of the consumer (``KEY_FOR_CHANNEL``: a WeCom id,
        a phone, an openid, an email) and the warehouse's identity map holds none: the send
        is suppressed (reason ``no_recipient``) instead of queued for a certain failure and
        counted against the caps. Without an identity map there is nothing to judge by."""
        if channel not in self.KEY_FOR_CHANNEL:
            return False
        if self._keys is None:
            self._load_people()
        if not self.has_table("identity_map"):
            return False
        return self.recipient(consumer_id, channel) is None

    def outbox(self, ctx, step, *, channel, purpose, recipient, payload) -> None:
        self.out_rows.append({
            "idempotency_key": ctx.key(step), "channel": channel,
            "consumer_id": ctx.consumer_id, "recipient": recipient, "guide_id": None,
            "purpose": purpose, "payload": payload,
            "source": f"journey:{ctx.journey.name}/{step.id}"[:64],
            "enrolment_id": ctx.enrolment_id, "status": "pending", "attempts": 0,
            "next_attempt_at": ctx.done_at(), "created_at": now_utc()})

    def coupon(self, ctx, step, *, template_id, face_value, threshold, expires_at,
               issued_at=None) -> None:
        self.coupon_rows.append({
            "idempotency_key": ctx.key(step), "consumer_id": ctx.consumer_id,
            "template_id": template_id, "face_value": face_value, "threshold": threshold,
            "issued_at": issued_at or ctx.now, "expires_at": expires_at,
            "source": f"journey:{ctx.journey.name}/{step.id}"[:64],
            "enrolment_id": ctx.enrolment_id})

    def task(self, ctx, step, *, kind, title, script, due_at) -> str:
        from siyu.activation.tasks import create_task

        return create_task(self.conn, consumer_id=ctx.consumer_id, kind=kind, title=title,
                           script=script, due_at=due_at,
                           source=f"journey:{ctx.journey.name}/{step.id}"[:128],
                           idempotency_key=ctx.key(step), settings=self.settings,
                           now=ctx.done_at())

    def tag_group(self, tag: str, group: str | None) -> str:
        """The group of a manual tag; an error for a tag computed by another kind."""
        from siyu.errors import UsageError
        from siyu.i18n import tr
        from siyu.tags.definitions import MANUAL_GROUP, definitions_of

        if not hasattr(self, "_tagdefs"):
            self._tagdefs = definitions_of(self.ws)
        d = self._tagdefs.get(tag)
        if d is not None and d.kind != "manual":
            raise UsageError(tr("标签 {t} 是 {k} 类标签，旅程不能设置",
                                "tag {t!r} is a {k} tag: a journey cannot set it",
                                t=tag, k=d.kind))
        return d.group if d is not None else (group or MANUAL_GROUP)

    def manual_tag(self, ctx, *, tag: str, group: str, value: str | None, add: bool) -> None:
        from sqlalchemy import and_, delete

        from siyu.ops.audit import record
        from siyu.ops.tables import manual_tags

        cid = ctx.consumer_id
        self.conn.execute(delete(manual_tags).where(and_(manual_tags.c.key == cid,
                                                         manual_tags.c.tag == tag)))
        actor = f"journey:{ctx.journey.name}"
        if add:
            self.conn.execute(manual_tags.insert().values(
                key=cid, consumer_id=cid, tag=tag, tag_group=group, value=value, actor=actor,
                source=f"journey:{ctx.journey.name}/{ctx.step_id}"[:200], set_at=ctx.now))
        record(None, actor, "tag_set" if add else "tag_unset", cid, {"tag": tag, "group": group},
               conn=self.conn)

    def flush(self) -> None:
        insert_rows(self._conn, outbox, self.out_rows, ignore=True)
        insert_rows(self._conn, coupon_grants, self.coupon_rows, ignore=True)
        insert_rows(self._conn, journey_log, self.log_rows)
        self.caps.flush()


@dataclass
class Ctx:
    """One enrolment while its due steps run."""

    env: Env
    journey: Journey
    enrolment_id: str
    consumer_id: str
    version: int
    enrolled_at: datetime
    now: datetime
    seq: int
    step_id: str
    wait_started_at: datetime | None
    arm: str | None
    trigger_ref: str = ""
    logs: list[dict] = field(default_factory=list)

    def key(self, step) -> str:
        return f"j:{self.enrolment_id}:{self.seq}:{step.id}"

    def log(self, kind: str, step_id: str | None, *, reason: str | None = None,
            detail: dict | None = None) -> None:
        self.env.log_rows.append({"enrolment_id": self.enrolment_id,
                                  "journey": self.journey.name, "version": self.version,
                                  "step": step_id, "kind": kind, "reason": reason,
                                  "at": self.now, "detail": detail})

    def done_at(self) -> datetime:
        """When the step's action is actually done: its logical time, or the engine's current
        time when the engine reached it later (a worker that was down)."""
        cur = self.env.current
        return self.now if cur is None or cur <= self.now else cur

    def too_late(self, at: datetime | None = None, due: datetime | None = None) -> bool:
        """Whether acting at ``at`` (default: the engine's current time) is more than
        ``journey_late_limit`` after ``due`` (default: this step's time)."""
        lim, at = self.env.late_limit, at or self.env.current
        return lim is not None and at is not None and at - (due or self.now) > lim

    def suppress_late(self, step, **detail) -> bool:
        """Record a ``too_late`` suppression of ``step`` when :meth:`too_late` (``due`` in
        ``detail`` replaces the step's time); whether it did."""
        due = detail.pop("due", None)
        if not self.too_late(due=due):
            return False
        self.log("suppressed", step.id, reason="too_late", detail=detail)
        return True

    def fields(self) -> dict[str, Any]:
        return {**self.env.fields_of(self.consumer_id), "brand": self.env.settings.brand_name,
                "consumer_id": self.consumer_id, "journey": self.journey.title,
                "trigger_category": self.env.trigger_category(self.trigger_ref)}


# -- enrolment ---------------------------------------------------------------------------

def enrol_many(conn, journey: Journey, version: int,
               candidates: list[tuple[str, datetime, str]]) -> int:
    """Enrol ``(consumer_id, at, ref)`` candidates into ``journey`` (re-entry policy applied,
    in time order); returns how many entered."""
    if not candidates:
        return 0
    cands = sorted(candidates, key=lambda c: (c[1], c[0], c[2]))
    ids = sorted({c[0] for c in cands})
    history: dict[str, list[tuple[str, datetime, str]]] = {}
    for i in range(0, len(ids), 500):
        for r in conn.execute(select(E.c.consumer_id, E.c.id, E.c.enrolled_at, E.c.status)
                              .where(E.c.journey == journey.name,
                                     E.c.consumer_id.in_(ids[i:i + 500]))):
            history.setdefault(r[0], []).append((r[1], utc(r[2]), r[3]))
    pol = journey.re_entry.get("policy", "never")
    days = journey.re_entry.get("days", 0)
    rows, logs = [], []
    for cid, at, ref in cands:
        eid = enrolment_id(journey.name, cid, ref)
        past = history.get(cid, [])
        if any(p[0] == eid for p in past):
            continue
        if past:
            if pol == "never":
                continue
            if any(p[2] == "active" for p in past):
                continue
            if pol == "after_days" and max(p[1] for p in past) > at - timedelta(days=days):
                continue
        history.setdefault(cid, []).append((eid, at, "active"))
        now = now_utc()
        rows.append({"id": eid, "journey": journey.name, "version": version,
                     "consumer_id": cid, "trigger_ref": ref[:200], "enrolled_at": at,
                     "step": journey.first_step, "seq": 0, "status": "active",
                     "next_step_at": at, "wait_started_at": None, "arm": None,
                     "exit_reason": None, "lease_owner": None, "lease_until": None,
                     "updated_at": now})
        logs.append({"enrolment_id": eid, "journey": journey.name, "version": version,
                     "step": None, "kind": "entered", "reason": None, "at": at,
                     "detail": None})
    insert_rows(conn, E, rows, ignore=True)
    insert_rows(conn, journey_log, logs)
    return len(rows)


def scan_triggers(ws, env: Env, now: datetime, start: datetime | None = None) -> int:
    """Read every active journey's triggers from its cursor (or ``start``) up to ``now`` and
    enrol who it finds; returns how many entered."""
    from siyu.activation.store import definition
    from siyu.activation.triggers import TRIGGERS

    entered = 0
    ops = ws.ops
    with ops.engine.connect() as conn:
        rows = conn.execute(select(journeys).where(journeys.c.status == "active",
                                                   journeys.c.trigger_type != "manual")
                            ).mappings().all()
    for r in rows:
        # the real clock reads from the deploy on; the simulated one from where it starts
        since = utc(r["trigger_cursor"]) or start or (
            utc(r["created_at"]) if env.lookback else now)
        if since >= now:
            continue
        env.floor = utc(r["created_at"])
        # the real clock follows the imports too (rows imported late); "" = from the first
        env.loads_after = (r["trigger_load"] or "") if env.lookback else None
        env.loads_upto = env.loads_hold = None
        with ops.engine.connect() as conn:
            j = definition(conn, r["name"], r["current_version"])
        # read outside the write transaction (the warehouse work may take a while)
        # every trigger's entries, enrolled together in time order: the re-entry policy
        # decides when two triggers find the same consumer (enrolled once for one need)
        cands = [c for t in j.triggers for c in TRIGGERS[t["type"]].candidates(env, t, since, now)]
        cursor = {"trigger_cursor": now}
        if env.loads_upto is not None:
            # never past an import whose new keys OneID has not mapped yet: its rows are
            # read again once it has (a row read twice enrols once, by its enrolment id)
            cursor["trigger_load"] = env.loads_upto if env.loads_hold is None else \
                min(env.loads_upto, env.loads_hold)
        with ops.engine.begin() as conn:
            # written first (SQLite: the write lock before any read); a row read twice by
            # two workers enrols once (the enrolment id)
            conn.execute(journeys.update().where(journeys.c.name == r["name"])
                         .values(**cursor))
            entered += enrol_many(conn, j, r["current_version"], cands)
    return entered


# -- claiming and processing ---------------------------------------------------------------

def _due(now: datetime, real: datetime, worker_id: str):
    """Ids of active enrolments of running journeys due at ``now`` and not leased to another
    worker (at the real instant ``real``)."""
    paused = select(journeys.c.name).where(journeys.c.status == "paused")
    return select(E.c.id).where(
        E.c.status == "active", E.c.next_step_at <= now, E.c.journey.not_in(paused),
        or_(E.c.lease_until.is_(None), E.c.lease_until < real, E.c.lease_owner == worker_id))


def claim(ops, worker_id: str, now: datetime, limit: int,
          lease_seconds: int) -> list[tuple[str, int]]:
    """Lease up to ``limit`` enrolments due at ``now`` to ``worker_id``; their ``(id, seq)``
    (the seq tells :func:`process` whether someone advanced one since)."""
    real = now_utc()
    with ops.engine.begin() as conn:
        sub = _due(now, real, worker_id).order_by(E.c.next_step_at, E.c.id).limit(limit)
        if conn.dialect.name == "postgresql":
            # a CTE is evaluated once; `id IN (SELECT … LIMIT n FOR UPDATE SKIP LOCKED)` may be
            # re-evaluated by PostgreSQL per row and lease far more than n enrolments
            picked = sub.with_for_update(skip_locked=True, of=E).cte("picked")
            which = E.c.id == picked.c.id
        else:
            which = E.c.id.in_(sub.scalar_subquery())
        got = conn.execute(E.update().where(which)
                           .values(lease_owner=worker_id,
                                   lease_until=real + timedelta(seconds=lease_seconds))
                           .returning(E.c.id, E.c.seq)).all()
    return [(r[0], r[1]) for r in got]


def _lock_batch(conn, claimed: list[tuple[str, int]], worker_id: str) -> list[dict]:
    """The claimed rows still leased to us and not advanced since, locked for this
    transaction."""
    seqs = dict(claimed)
    ids = sorted(seqs)
    if conn.dialect.name == "sqlite":  # take SQLite's write lock before reading
        conn.execute(E.update().where(E.c.id.in_(ids), E.c.lease_owner == worker_id)
                     .values(lease_owner=worker_id))
        q = select(E).where(E.c.id.in_(ids), E.c.lease_owner == worker_id)
    else:
        q = select(E).where(E.c.id.in_(ids), E.c.lease_owner == worker_id,
                            E.c.status == "active").order_by(E.c.id).with_for_update()
    rows = [dict(r) for r in conn.execute(q).mappings()]
    if conn.dialect.name == "postgresql":  # one batch at a time per consumer (caps)
        for cid in sorted({r["consumer_id"] for r in rows}):
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:c))"), {"c": cid})
    return [r for r in rows if r["status"] == "active" and r["seq"] == seqs[r["id"]]]


def _advance(env: Env, row: dict, journey: Journey) -> dict:
    from siyu.activation.conditions import evaluate
    from siyu.activation.steps import STEP_KINDS

    ctx = Ctx(env=env, journey=journey, enrolment_id=row["id"],
              consumer_id=row["consumer_id"], version=row["version"],
              enrolled_at=utc(row["enrolled_at"]), now=utc(row["next_step_at"]),
              seq=row["seq"], step_id=row["step"],
              wait_started_at=utc(row["wait_started_at"]), arm=row["arm"],
              trigger_ref=row.get("trigger_ref") or "")
    state = {"status": "active", "next_step_at": ctx.now, "exit_reason": None}
    for _ in range(MAX_STEPS_AT_ONCE):
        for i, cond in enumerate(journey.exit_when):
            if evaluate(cond, ctx):
                ctx.log("exited", ctx.step_id, reason=f"exit_when[{i}]")
                state.update(status="exited", next_step_at=None, exit_reason=f"exit_when[{i}]")
                break
        if state["status"] != "active":
            break
        step = journey.step(ctx.step_id)
        out = STEP_KINDS[step.kind].run(ctx, step)
        if out.goto is None:  # deferred: same step later
            state["next_step_at"] = out.at
            break
        ctx.log("step", step.id, detail={"arm": out.arm} if out.arm else None)
        ctx.seq += 1
        if out.arm:
            ctx.arm = out.arm
        if out.wait_started:
            ctx.wait_started_at = ctx.now
        if out.goto == "end":
            st = out.status or "done"
            ctx.log(st, step.id, reason=out.reason)
            state.update(status=st, next_step_at=None, exit_reason=out.reason)
            break
        ctx.step_id = out.goto
        if out.at > ctx.now:
            state["next_step_at"] = out.at
            break
    else:
        ctx.log("failed", ctx.step_id, reason="loop")
        state.update(status="failed", next_step_at=None, exit_reason="loop")
    state.update(step=ctx.step_id, seq=ctx.seq, arm=ctx.arm, wait_started_at=ctx.wait_started_at)
    return state


def _advance_batch(conn, env: Env, rows: list[dict]) -> int:
    """Run the due steps of locked ``rows`` and write everything (inside ``conn``)."""
    from siyu.activation.store import definition

    if not rows:
        return 0
    env.begin_batch(conn, rows)
    updates = []
    defs: dict[tuple[str, int], Journey] = {}
    for row in rows:
        env.start()
        try:
            jv = (row["journey"], row["version"])
            j = defs.get(jv)
            if j is None:
                j = defs[jv] = definition(conn, *jv)
            st = _advance(env, row, j)
            env.finish(True)
        except Exception as e:  # a broken definition or data: this enrolment fails alone,
            env.finish(False)  # and nothing its steps did remains (savepoint, rows, caps)
            env.log_rows.append({"enrolment_id": row["id"], "journey": row["journey"],
                                 "version": row["version"], "step": row["step"],
                                 "kind": "failed", "reason": type(e).__name__[:64],
                                 "at": utc(row["next_step_at"]),
                                 "detail": {"error": _error_text(e)}})
            st = {"status": "failed", "next_step_at": None, "exit_reason": "error",
                  "step": row["step"], "seq": row["seq"], "arm": row["arm"],
                  "wait_started_at": utc(row["wait_started_at"])}
        updates.append({"id": row["id"], **st})
    env.flush()
    now = now_utc()
    update_rows(conn, E, "id", [{**u, "lease_owner": None, "lease_until": None,
                                 "updated_at": now} for u in updates])
    return len(updates)


def _error_text(e: Exception) -> str:
    """What the log keeps of a step's error: the database's own message for a statement
    that failed, first line (not the statement and its parameters, which may hold personal
    data)."""
    orig = getattr(e, "orig", None)
    return (str(orig if orig is not None else e).strip().splitlines() or [""])[0][:300]


def process(ops, env: Env, ids: list[tuple[str, int]], worker_id: str) -> int:
    """Advance the claimed enrolments ``ids`` (``(id, seq)`` from :func:`claim`) in one
    transaction; how many were advanced."""
    if not ids:
        return 0
    with ops.engine.begin() as conn:
        return _advance_batch(conn, env, _lock_batch(conn, ids, worker_id))


# the claimed rows as stored (datetimes as SQLite's text, parsed by _from_raw: several times
# faster than SQLAlchemy's per-value DateTime processing, which dominated claiming)
_RAW_COLUMNS = [type_coerce(c, String).label(c.name) if isinstance(c.type, DateTime) else c
                for c in E.c]
_NAMES = [c.name for c in E.c]
_DT_NAMES = [c.name for c in E.c if isinstance(c.type, DateTime)]


def _from_raw(r) -> dict:
    row = dict(zip(_NAMES, r, strict=True))
    for k in _DT_NAMES:
        v = row[k]
        if v is not None:
            row[k] = datetime.fromisoformat(v).replace(tzinfo=UTC)
    return row


def claim_and_process(ops, env: Env, worker_id: str, now: datetime, limit: int,
                      lease_seconds: int) -> int | None:
    """SQLite: claim and advance one batch in a single transaction (the database's one
    write lock is held from the claim to the commit, so no other worker can interleave;
    the lease columns are set and cleared within it). None when nothing was due."""
    real = now_utc()
    with ops.engine.begin() as conn:
        # the first statement writes: SQLite's write lock is taken before anything is read
        sub = _due(now, real, worker_id).order_by(E.c.next_step_at).limit(limit)
        got = conn.execute(
            E.update().where(E.c.id.in_(sub.scalar_subquery()))
            .values(lease_owner=worker_id, lease_until=real + timedelta(seconds=lease_seconds))
            .returning(*_RAW_COLUMNS)).all()
        rows = [_from_raw(r) for r in got]
        if not rows:
            return None
        rows.sort(key=lambda r: (utc(r["next_step_at"]), r["id"]))
        return _advance_batch(conn, env, rows)


def run_pass(ws, *, now: datetime, worker_id: str | None = None, start: datetime | None = None,
             max_batches: int | None = None, env: Env | None = None,
             current: datetime | None = None) -> dict[str, int]:
    """One engine pass at ``now``: triggers, then every enrolment due at ``now``.

    ``current`` is the engine's present for lateness (``journey_late_limit``): ``siyu
    worker`` passes its clock, ``siyu run`` the start of each tick (its simulated worker runs
    through the tick, so a step due inside it is on time); None judges nothing late."""
    s = ws.settings
    own = env is None
    env = env or Env(ws, worker_id)
    env.current = current
    try:
        entered = scan_triggers(ws, env, now, start)
        advanced = batches = 0
        sqlite = ws.ops.engine.dialect.name == "sqlite"
        while max_batches is None or batches < max_batches:
            if sqlite:
                n = claim_and_process(ws.ops, env, env.worker_id, now, s.journey_batch,
                                      s.journey_lease_seconds)
                if n is None:
                    break
            else:
                ids = claim(ws.ops, env.worker_id, now, s.journey_batch,
                            s.journey_lease_seconds)
                if not ids:
                    break
                n = process(ws.ops, env, ids, env.worker_id)
            advanced += n
            batches += 1
    finally:
        if own:
            env.close()
    return {"entered": entered, "advanced": advanced, "batches": batches}
