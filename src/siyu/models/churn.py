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

from siyu.models.relationships import active_at
from siyu.models.sources import Sources
from siyu.schema import ENGAGED_TYPES

__all__ = ["churn_risk", "churn_summary"]


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
