"""Churn-risk signals (DOMAIN.md §10) at an instant ``t`` (``as_of``).

The population is every consumer *in the private domain* at t (§4: at least one relationship
active at t). Only events before t count. A consumer is **high-risk** when all three hold:

    no_engaged       no engaged interaction (like, comment, message, checkin) in
                     ``[t − churn_no_engaged_days × 24 h, t)``
    unread_message   some ``message_sent`` to the consumer at time m with
                     m < t − churn_unread_hours (strictly more than that old) and no
                     ``message_read`` by the consumer (any field) at or after m, before t
    no_view          no ``view`` in ``[t − churn_no_view_days × 24 h, t)``

The three booleans are returned with the flag so that the reason is explainable, together with
the times they rest on (``last_engaged_at``, ``last_viewed_at`` and ``unread_since``: the
oldest brand message not read since).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import ibis

from siyu.models.periods import Period
from siyu.models.relationships import active_at
from siyu.models.sources import Sources
from siyu.schema import ENGAGED_TYPES

__all__ = ["churn_risk", "churn_summary", "churn_summaries", "unread_spans"]


def churn_risk(src: Sources, as_of: datetime) -> ibis.Table:
    """``(consumer_id, no_engaged, unread_message, no_view, high_risk, last_engaged_at,
    last_viewed_at, unread_since)``, one row per consumer in the private domain at ``as_of``
    (a tz-aware instant)."""
    cfg = src.settings
    t = ibis.literal(as_of)
    st = src.stretches
    private = st.filter(active_at(st, t)).select(cid="consumer_id").distinct()

    i = src.interactions
    i = i.filter(i.occurred_at < t)
    last = i.group_by(lid=i.consumer_id).aggregate(
        last_engaged_at=i.occurred_at.max(where=i.type.isin(ENGAGED_TYPES)),
        last_viewed_at=i.occurred_at.max(where=i.type == "view"),
        last_read_at=i.occurred_at.max(where=i.type == "message_read"),
    )
    sent = i.filter(i.type == "message_sent").select(sid="consumer_id", sent_at="occurred_at")
    sent = sent.join(last, sent.sid == last.lid)
    sent = sent.filter(sent.last_read_at.isnull() | (sent.sent_at > sent.last_read_at))
    unread = sent.group_by(uid=sent.sid).aggregate(unread_since=sent.sent_at.min())

    p = private.left_join(last, private.cid == last.lid).left_join(
        unread, private.cid == unread.uid)
    engaged_from = ibis.literal(as_of - timedelta(days=cfg.churn_no_engaged_days))
    view_from = ibis.literal(as_of - timedelta(days=cfg.churn_no_view_days))
    unread_before = ibis.literal(as_of - timedelta(hours=cfg.churn_unread_hours))
    no_engaged = (p.last_engaged_at.isnull() | (p.last_engaged_at < engaged_from))
    unread_message = (p.unread_since.notnull() & (p.unread_since < unread_before))
    no_view = (p.last_viewed_at.isnull() | (p.last_viewed_at < view_from))
    return p.select(
        consumer_id=p.cid,
        no_engaged=no_engaged,
        unread_message=unread_message,
        no_view=no_view,
        high_risk=no_engaged & unread_message & no_view,
        last_engaged_at=p.last_engaged_at,
        last_viewed_at=p.last_viewed_at,
        unread_since=p.unread_since,
    )


def churn_summary(src: Sources, as_of: datetime) -> ibis.Table:
    """One row ``(private, high_risk, rate, no_engaged, unread_message, no_view)``: consumers
    in the private domain at ``as_of``, those at high risk, their share (null when nobody is
    in the private domain) and how many meet each condition."""
    c = churn_risk(src, as_of)

    def n(flag: ibis.Value) -> ibis.Value:
        return flag.cast("int64").sum().fill_null(0)

    g = c.aggregate(private=c.consumer_id.count(), high_risk=n(c.high_risk),
                    no_engaged=n(c.no_engaged), unread_message=n(c.unread_message),
                    no_view=n(c.no_view))
    return g.mutate(rate=ibis.ifelse(g.private > 0,
                                     g.high_risk.cast("float64") / g.private, None))


def unread_spans(src: Sources) -> ibis.Table:
    """``(consumer_id, since, read_at)``: each run of brand messages (``message_sent``) that
    the consumer read at once — ``since`` the oldest message of the run, ``read_at`` the first
    ``message_read`` at or after it (null: not read yet). At an instant t the consumer has an
    unread message since ``since`` exactly when ``since < t`` and (``read_at`` is null or
    ``read_at ≥ t``); at most one run of a consumer is open at t."""
    i = src.interactions
    ev = i.filter(i.type.isin(["message_sent", "message_read"]))
    ev = ev.select("consumer_id", "occurred_at",
                   is_read=(ev.type == "message_read").cast("int64"))
    # at equal times a read follows the message (a read at m reads the message sent at m)
    before = ibis.window(group_by=ev.consumer_id, order_by=[ev.occurred_at, ev.is_read],
                         rows=(None, -1))
    ev = ev.mutate(run=ev.is_read.sum().over(before).fill_null(0))
    g = ev.group_by(["consumer_id", "run"]).aggregate(
        since=ev.occurred_at.min(where=ev.is_read == 0),
        read_at=ev.occurred_at.min(where=ev.is_read == 1))
    g = g.filter(g.since.notnull())
    return g.select("consumer_id", "since", "read_at")


def _flags(flag: str) -> dict[str, ibis.Value]:
    one, zero = ibis.literal(1, "int8"), ibis.literal(0, "int8")
    return {k: one if k == flag else zero for k in ("e", "u", "v")}


def churn_summaries(src: Sources, periods: list[Period], *,
                    cap: ibis.Table | None = None) -> ibis.Table:
    """:func:`churn_summary` at the end of each of ``periods`` in one query: ``(period,
    private, high_risk, rate, no_engaged, unread_message, no_view)``, one row per period.
    ``cap`` is :func:`~siyu.models.fast.capital` of ``periods`` (the private domain at their
    ends) when already at hand."""
    cfg = src.settings
    pt = ibis.memtable(
        {"period": [src.period_key(p) for p in periods],
         "t": [p.end_utc for p in periods],
         "engaged_from": [p.end_utc - timedelta(days=cfg.churn_no_engaged_days)
                          for p in periods],
         "view_from": [p.end_utc - timedelta(days=cfg.churn_no_view_days) for p in periods],
         "unread_before": [p.end_utc - timedelta(hours=cfg.churn_unread_hours)
                           for p in periods]},
        schema={"period": src.period_type, "t": "timestamp('UTC')",
                "engaged_from": "timestamp('UTC')", "view_from": "timestamp('UTC')",
                "unread_before": "timestamp('UTC')"})

    # the private domain at t: Capital(P) when at hand, else the islands active at t (at
    # most one island of a consumer is active at an instant: no distinct)
    if cap is not None:
        private = cap.select("period", "consumer_id")
    else:
        isl = src.islands.cross_join(pt)
        private = isl.filter(active_at(isl, isl.t)).select("period", "consumer_id")

    def seen(types, since: str, flag: str) -> ibis.Table:
        """(period, consumer_id, e, u, v) with ``flag`` 1: an interaction of ``types`` in
        [since, t)."""
        i = src.interactions
        i = i.filter(i.type.isin(list(types))).select("consumer_id", "occurred_at")
        j = i.cross_join(pt)
        j = j.filter((j.occurred_at >= j[since]) & (j.occurred_at < j.t))
        return j.select("period", "consumer_id", **_flags(flag))

    u = unread_spans(src).cross_join(pt)
    u = u.filter((u.since < u.unread_before) & (u.read_at.isnull() | (u.read_at >= u.t)))
    unread = u.select("period", "consumer_id", **_flags("u"))

    # the three signals of each consumer seen at all, then only those in the private domain
    # (one join instead of one per signal)
    f = seen(ENGAGED_TYPES, "engaged_from", "e").union(unread, distinct=False).union(
        seen(["view"], "view_from", "v"), distinct=False)
    f = f.group_by(["period", "consumer_id"]).aggregate(e=f.e.max(), u=f.u.max(), v=f.v.max())
    f = f.join(private, ["period", "consumer_id"])
    sig = f.group_by("period").aggregate(
        engaged=f.e.sum(), unread_message=f.u.sum(), viewed=f.v.sum(),
        high_risk=((f.u == 1) & (f.e == 0) & (f.v == 0)).cast("int64").sum())
    n = private.group_by("period").aggregate(private=private.count())
    g = n.left_join(sig, "period").drop("period_right")
    g = g.select("period", "private", "high_risk", "unread_message",
                 no_engaged=g.private - g.engaged.fill_null(0),
                 no_view=g.private - g.viewed.fill_null(0))
    t = pt.select("period").left_join(g, "period").drop("period_right")
    n = {k: t[k].fill_null(0).cast("int64") for k in
         ("private", "high_risk", "no_engaged", "unread_message", "no_view")}
    t = t.mutate(**n)
    return t.mutate(rate=ibis.ifelse(t.private > 0,
                                     t.high_risk.cast("float64") / t.private, None))
