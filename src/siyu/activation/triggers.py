"""Triggers (a registry of small classes): who enters a journey, and when.

``candidates(env, spec, since, until)`` returns ``(consumer_id, at, ref)`` for entries in
``(since, until]``; ``ref`` names the triggering row or day, so the enrolment id derived from
it makes every entry idempotent. Daily triggers (date, inactivity, purchase cycle, churn risk)
look at each brand-local day whose midnight falls in the interval — after downtime, only the
days whose date (the birthday, the expiry or due day; for inactivity and churn risk the day
itself) began at most ``journey_late_limit`` before the engine's present (:meth:`Env.keep_day`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any, ClassVar

__all__ = ["TRIGGERS", "Trigger", "check_trigger"]

Candidate = tuple[str, datetime, str]


class Trigger:
    name: ClassVar[str]
    keys: ClassVar[tuple[str, ...]] = ()

    def check(self, spec: dict, path: tuple, problem) -> None:
        pass

    def candidates(self, env, spec: dict, since: datetime, until: datetime) -> list[Candidate]:
        raise NotImplementedError


def _whole(v: Any, lo: int = 0) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= lo


def _days(env, since: datetime, until: datetime, ahead: int = 0) -> list[tuple[date, datetime]]:
    """The brand-local days a daily trigger reads: those starting in ``(since, until]`` that
    are not too late (:meth:`Env.keep_day`; ``ahead`` = days from the day to its date)."""
    return [(d, s) for d, s in _midnights(since, until, env.zone) if env.keep_day(s, ahead)]


def _midnights(since: datetime, until: datetime, zone) -> list[tuple[date, datetime]]:
    """Brand-local days whose start lies in ``(since, until]``."""
    d = since.astimezone(zone).date()
    out = []
    while True:
        start = datetime.combine(d, time(0), tzinfo=zone).astimezone(UTC)
        if start > until:
            return out
        if start > since:
            out.append((d, start))
        d += timedelta(days=1)


class EventTrigger(Trigger):
    name, keys = "event", ("event", "where")

    def check(self, spec, path, problem):
        from siyu.activation.events import check_event

        check_event(spec, path, problem)

    def candidates(self, env, spec, since, until):
        """Simulated clock: the events whose time is in ``(since, until]``, entering at their
        time. Real clock (``env.loads_after`` set): those, and every row imported since the
        journey's import cursor whatever its time (up to ``until``) — a row imported late
        enters at its time when that is within the look-back before ``since``, else at
        ``until`` (when the engine read it); rows older than the journey do not enter."""
        from siyu.activation.events import event_rows, first_unmapped_load, latest_load

        raw = env.raw()
        if raw is None:
            return []
        ev, where = spec["event"], spec.get("where") or {}
        if env.loads_after is None:
            return [(c, at, f"{ev}:{ref}")
                    for c, at, ref in event_rows(raw, ev, where, since=since, until=until)]
        upto = latest_load(raw, ev)
        if upto is None:
            return []
        # an import OneID has not been through yet whose rows have keys without a consumer
        # id: the import cursor stops before it (those rows are read again after OneID)
        held = first_unmapped_load(raw, ev, max(env.loads_after, env.oneid_mark()))
        if held is not None:
            before = max(held[1] or "", env.loads_after)
            env.loads_hold = before if env.loads_hold is None else min(env.loads_hold, before)
        rows = event_rows(raw, ev, where, since=since, until=until,
                          loads=(env.loads_after, upto))
        # two event triggers in one journey: the cursor moves to the later of their ends
        # (the warehouse does not change during a pass: a table whose last import is
        # earlier has no rows in between)
        env.loads_upto = upto if env.loads_upto is None else max(env.loads_upto, upto)
        back = env.lookback_from(since)
        return [(c, at if at > back else until, f"{ev}:{ref}") for c, at, ref in rows
                if env.floor is None or at >= env.floor]


class AudienceTrigger(Trigger):
    name, keys = "audience", ("audience", "change")

    def check(self, spec, path, problem):
        if not isinstance(spec.get("audience"), str) or not spec["audience"].strip():
            problem(path + ("audience",), "audience must name a saved audience")
        if spec.get("change", "enter") not in ("enter", "leave"):
            problem(path + ("change",), "change must be enter or leave")

    def candidates(self, env, spec, since, until):
        raw = env.raw()
        if raw is None or not env.has_table("audience_changes"):
            return []
        from siyu.activation.clock import utc

        def naive(t: datetime) -> datetime:  # the table's "at" is a UTC TIMESTAMP
            return t.astimezone(UTC).replace(tzinfo=None)
        rows = raw.execute(
            'SELECT consumer_id, "at", refresh_id FROM audience_changes WHERE audience = ? AND '
            '"change" = ? AND "at" > ? AND "at" <= ? ORDER BY "at", consumer_id',
            [spec["audience"], spec.get("change", "enter"), naive(env.lookback_from(since)),
             naive(until)]).fetchall()

        return [(c, utc(at), f"audience:{r}") for c, at, r in rows]


class DateTrigger(Trigger):
    name, keys = "date", ("attribute", "days_before")
    ATTRS = ("birthday", "coupon_expiry", "points_expiry")

    def check(self, spec, path, problem):
        if spec.get("attribute") not in self.ATTRS:
            problem(path + ("attribute",), f"attribute must be one of {', '.join(self.ATTRS)}")
        if not _whole(spec.get("days_before", 0)):
            problem(path + ("days_before",), "days_before must be a whole number ≥ 0")

    def candidates(self, env, spec, since, until):
        if spec["attribute"] == "points_expiry":
            return self._points(env, spec, since, until)
        raw = env.raw()
        if raw is None or not env.has_table("identity_map"):
            return []
        n = spec.get("days_before", 0)
        out: list[Candidate] = []
        for d, start in _days(env, since, until, n):
            target = d + timedelta(days=n)
            if spec["attribute"] == "birthday":
                rows = raw.execute(
                    "SELECT DISTINCT m.consumer_id FROM consumers c JOIN identity_map m ON "
                    "m.key = c.consumer_key WHERE c.birthday IS NOT NULL AND "
                    "month(c.birthday) = ? AND day(c.birthday) = ? ORDER BY 1",
                    [target.month, target.day]).fetchall()
                out += [(r[0], start, f"birthday:{target}") for r in rows]
            else:
                rows = raw.execute(
                    "SELECT m.consumer_id, c.coupon_id FROM coupons c JOIN identity_map m ON "
                    "m.key = c.consumer_key WHERE c.action IN ('issued', 'claimed') AND "
                    "TRY_CAST(json_extract_string(c.attrs, '$.expires_at') AS DATE) = ? AND "
                    "c.occurred_at <= ? AND NOT EXISTS (SELECT 1 FROM coupons u WHERE "
                    "u.coupon_id = c.coupon_id AND u.action IN ('redeemed', 'expired') AND "
                    "u.occurred_at <= ?) GROUP BY 1, 2 ORDER BY 1, 2",
                    [target, start, start]).fetchall()
                out += [(r[0], start, f"coupon_expiry:{r[1]}") for r in rows]
        return out


    @staticmethod
    def _points(env, spec, since, until) -> list[Candidate]:
        """Consumers with loyalty points (ops table ``points_ledger``) lapsing on the
        brand-local day ``days_before`` ahead, still unused at the midnight they are read."""
        from siyu.activation.points import expiring

        n = spec.get("days_before", 0)
        out: list[Candidate] = []
        with env.ws.ops.engine.connect() as conn:
            for d, start in _days(env, since, until, n):
                target = d + timedelta(days=n)
                lo = datetime.combine(target, time(0), tzinfo=env.zone).astimezone(UTC)
                hi = datetime.combine(target + timedelta(days=1), time(0),
                                      tzinfo=env.zone).astimezone(UTC)
                got = expiring(conn, lo, hi, at=start)
                out += [(c, start, f"points_expiry:{target}") for c in sorted(got)]
        return out


class InactivityTrigger(Trigger):
    name, keys = "inactivity", ("days",)

    def check(self, spec, path, problem):
        if not _whole(spec.get("days"), 1):
            problem(path + ("days",), "days must be a whole number ≥ 1")

    def candidates(self, env, spec, since, until):
        raw = env.raw()
        if raw is None or not env.has_table("identity_map"):
            return []
        out: list[Candidate] = []
        for d, start in _days(env, since, until):
            rows = raw.execute(
                "WITH rel AS (SELECT m.consumer_id, r.field, r.field_ref, "
                "arg_max(r.action, r.occurred_at) AS last FROM relationships r JOIN identity_map "
                "m ON m.key = r.consumer_key WHERE r.occurred_at < ? GROUP BY ALL), "
                "inside AS (SELECT DISTINCT consumer_id FROM rel WHERE last = 'start'), "
                "seen AS (SELECT m.consumer_id, max(i.occurred_at) AS last_at FROM interactions i "
                "JOIN identity_map m ON m.key = i.consumer_key WHERE i.type <> 'message_sent' "
                "AND i.occurred_at < ? GROUP BY 1) "
                "SELECT s.consumer_id FROM seen s JOIN inside USING (consumer_id) "
                "WHERE CAST(s.last_at AS DATE) = ? ORDER BY 1",
                [start, start, d - timedelta(days=spec["days"])]).fetchall()
            out += [(r[0], start, f"inactive:{d}") for r in rows]
        return out


class PurchaseCycleTrigger(Trigger):
    name, keys = "purchase_cycle_due", ("days_before", "category")

    def check(self, spec, path, problem):
        if not _whole(spec.get("days_before", 0)):
            problem(path + ("days_before",), "days_before must be a whole number ≥ 0")
        if "category" in spec and not isinstance(spec["category"], str):
            problem(path + ("category",), "category must be text")

    def candidates(self, env, spec, since, until):
        raw = env.raw()
        if raw is None or not env.has_table("purchase_cycles"):
            return []
        out: list[Candidate] = []
        for d, start in _days(env, since, until, spec.get("days_before", 0)):
            target = d + timedelta(days=spec.get("days_before", 0))
            sql = ("SELECT consumer_id, category FROM purchase_cycles WHERE next_due = ?")
            params: list[Any] = [target]
            if "category" in spec:
                sql += " AND category = ?"
                params.append(spec["category"])
            rows = raw.execute(sql + " ORDER BY 1, 2", params).fetchall()
            out += [(c, start, f"cycle:{cat}:{target}") for c, cat in rows]
        return out


class ChurnRiskTrigger(Trigger):
    name = "churn_risk"

    def candidates(self, env, spec, since, until):
        if env.raw() is None or not env.has_table("identity_map"):
            return []
        from siyu.models.churn import churn_risk
        from siyu.models.sources import Sources

        src = Sources(env.ibis(), env.settings)
        out: list[Candidate] = []
        prev: set[str] | None = None
        for d, start in _days(env, since, until):
            def risky(at: datetime) -> set[str]:
                t = churn_risk(src, at)
                return set(t.filter(t.high_risk).to_pyarrow()["consumer_id"].to_pylist())
            now = risky(start)
            before = prev if prev is not None else risky(start - timedelta(days=1))
            out += [(c, start, f"churn:{d}") for c in sorted(now - before)]
            prev = now
        return out


class ManualTrigger(Trigger):
    name = "manual"

    def candidates(self, env, spec, since, until):
        return []


TRIGGERS: dict[str, Trigger] = {t.name: t() for t in (
    EventTrigger, AudienceTrigger, DateTrigger, InactivityTrigger, PurchaseCycleTrigger,
    ChurnRiskTrigger, ManualTrigger)}


def check_trigger(spec: Any, path: tuple, problem) -> None:
    if not isinstance(spec, dict) or "type" not in spec:
        problem(path, f"trigger must be a mapping with a type: {', '.join(TRIGGERS)}")
        return
    t = TRIGGERS.get(spec["type"])
    if t is None:
        problem(path + ("type",), f"unknown trigger type {spec['type']!r}; known: "
                f"{', '.join(TRIGGERS)}")
        return
    for k in spec:
        if k != "type" and k not in t.keys:
            problem(path + (k,), f"trigger {t.name!r} has no key {k!r}"
                    + (f"; known: {', '.join(t.keys)}" if t.keys else ""))
    t.check(spec, path, problem)
