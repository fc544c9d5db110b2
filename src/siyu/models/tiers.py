"""The five-tier relationship ladder (DOMAIN.md §5) at the end of each period.

For consumer u and period P, first rule that holds:

    5 KOC                      member at end(P), ≥ 2 member purchase days in P, ≥ 1 propagation in P
    4 repeat member            member at end(P), ≥ 2 member purchase days in P
    3 purchasing member        member at end(P), exactly 1 member purchase day in P
    2 non-purchasing member    member at end(P), 0 member purchase days in P
    1 basic private user       in the private domain at end(P), not a member
    0 —                        not in the private domain at end(P)

A *member purchase* is a paid order placed while the membership relationship is active
(§4); a *purchase day* is a distinct brand-local calendar day. A *successful propagation* by u
in P is (a) a paid order placed in P by another consumer (after OneID) carrying the
``share_id`` of one of u's shares, on the share's local day or within the next
``propagation_window_days − 1`` days and not before the share; or (b), when
``propagation_reviews`` is on, a review by u in P rated ≥ ``propagation_review_min_rating``.
"""

from __future__ import annotations

import ibis

from siyu.models.periods import Period
from siyu.models.relationships import active_at
from siyu.models.sources import Sources, periods_table

__all__ = ["tiers", "referee_orders", "TIER_NAMES"]

TIER_NAMES = {
    0: ("—", "not in the private domain"),
    1: ("基础私域用户", "basic private user"),
    2: ("未购会员", "non-purchasing member"),
    3: ("已购会员", "purchasing member"),
    4: ("复购会员", "repeat member"),
    5: ("品牌KOC", "KOC"),
}


def referee_orders(src: Sources) -> ibis.Table:
    """Paid orders attributed to another consumer's share (§5 a): ``order_id, paid_at,
    amount, gross_profit, sharer_id`` (the sharer's consumer_id)."""
    o = src.paid_orders
    s = src.shares
    s = s.select(share_key=s.share_id, sharer_id=s.consumer_id, shared_at=s.occurred_at)
    j = o.join(s, o.share_id == s.share_key)
    days = j.paid_at.date().delta(j.shared_at.date(), unit="day")
    j = j.filter(
        (j.sharer_id != j.consumer_id)
        & (j.paid_at >= j.shared_at)
        & (days < src.settings.propagation_window_days)
    )
    return j.select("order_id", "paid_at", "amount", "gross_profit", "sharer_id")


def tiers(src: Sources, periods: list[Period]) -> ibis.Table:
    """``(period, consumer_id, tier, member, purchase_days, propagations)`` for every consumer
    with tier ≥ 1 at the end of each of ``periods`` (tier 0 consumers are absent)."""
    p = periods_table(src, periods)
    st = src.stretches

    # state at end(P): in the private domain (an island active: at most one per consumer,
    # so no aggregate over every active stretch), member (a membership stretch active)
    isl = src.islands.cross_join(p)
    private = isl.filter(active_at(isl, isl.p_end)).select("period", "consumer_id")
    ms = st.filter(st.field == "membership").cross_join(p)
    ms = ms.filter(active_at(ms, ms.p_end))
    ms = ms.select(m_period="period", m_id="consumer_id").distinct()
    state = private.left_join(ms, (private.period == ms.m_period)
                              & (private.consumer_id == ms.m_id))
    state = state.select("period", "consumer_id", member=state.m_id.notnull())

    # member purchase days in P
    members = st.filter(st.field == "membership")
    members = members.select(m_id=members.consumer_id, m_start=members.started_at,
                             m_end=members.ended_at)
    o = src.paid_orders
    mo = o.join(members, (o.consumer_id == members.m_id) & (members.m_start < o.paid_at)
                & (members.m_end.isnull() | (members.m_end >= o.paid_at)))
    mo = mo.select("order_id", "consumer_id", "paid_at").distinct()
    mo = mo.cross_join(p)
    mo = mo.filter((mo.paid_at >= mo.p_start) & (mo.paid_at < mo.p_end))
    days = mo.group_by(["period", "consumer_id"]).aggregate(
        purchase_days=mo.paid_at.date().nunique())

    # successful propagations in P
    ref = referee_orders(src).cross_join(p)
    ref = ref.filter((ref.paid_at >= ref.p_start) & (ref.paid_at < ref.p_end))
    props = ref.group_by(["period", ref.sharer_id.name("consumer_id")]).aggregate(
        n=ref.order_id.nunique())
    if src.settings.propagation_reviews:
        r = src.reviews.cross_join(p)
        r = r.filter((r.occurred_at >= r.p_start) & (r.occurred_at < r.p_end)
                     & (r.rating >= src.settings.propagation_review_min_rating))
        props = props.union(r.group_by(["period", "consumer_id"]).aggregate(
            n=r.review_id.nunique()))
    props = props.group_by(["period", "consumer_id"]).aggregate(propagations=props.n.sum())

    t = state.left_join(days, ["period", "consumer_id"]).drop("period_right",
                                                              "consumer_id_right")
    t = t.left_join(props, ["period", "consumer_id"]).drop("period_right",
                                                           "consumer_id_right")
    d = t.purchase_days.fill_null(0)
    pr = t.propagations.fill_null(0)
    tier = (
        ibis.cases(
            (t.member & (d >= 2) & (pr >= 1), 5),
            (t.member & (d >= 2), 4),
            (t.member & (d == 1), 3),
            (t.member, 2),
            else_=1,
        )
    )
    return t.select("period", "consumer_id", tier=tier.cast("int8"), member=t.member,
                    purchase_days=d.cast("int64"), propagations=pr.cast("int64"))
