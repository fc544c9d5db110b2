"""Private-domain health (DOMAIN.md §8) in three dimensions, for each of a list of periods.

Capital(P) = consumers in the private domain (tier ≥ 1) at end(P). **Buyers of P** =
consumers in Capital(P) with a paid order placed in P (refunded orders count nowhere).

scale
    ``capital`` at end(P); ``new_users`` (first-ever relationship start in P);
    ``growth_rate`` = Capital(P) / Capital(P−1) − 1 (null when Capital(P−1) = 0).
quality
    ``dau_rate`` = mean over the local days of P of (consumers in Capital(day) with a
    visit-type interaction that day / Capital(day)) — the daily activity rate of
    :func:`siyu.models.daily.daily`; days with Capital 0 have no rate and are left out of the
    mean (all days without → null). Every day of P counts, also days after the data end.
    ``wau_rate`` = the same mean over the ISO weeks (Monday first) that overlap P, each week
    rated over the Capital at its own end (so a month's first and last weeks reach into the
    neighbouring months). ``interaction_rate`` = consumers in Capital(P) with an engaged
    interaction in P / Capital(P).
value
    ``repurchase_rate`` = buyers of P with ≥ 2 purchase days (distinct local days) in P /
    buyers of P. ``next_period_repurchase_rate`` = buyers of P−1 with a paid order in P /
    buyers of P−1 (the order in P counts whether or not the consumer is still in the private
    domain at end(P): the question is whether P−1's buyers came back). ``aov`` = GMV / orders
    of the paid orders placed in P by buyers of P. ``clv_mean`` = mean CLV over Capital(P)
    (§6, :func:`siyu.models.fast.clv`; null when Capital(P) is empty).
"""

from __future__ import annotations

from datetime import timedelta

import ibis

from siyu.models.daily import activity, buyers, new_users, of_periods, rate
from siyu.models.fast import clv
from siyu.models.periods import Period, period_of, periods_between, with_previous
from siyu.models.sources import Sources, period_pairs, periods_table

__all__ = ["health"]


def _mean_rate(src: Sources, parents: list[Period], children: dict[str, list[Period]]
               ) -> ibis.Table:
    """``(period, mean_rate)``: per parent, the mean activity rate of its child periods."""
    kids = {str(c): c for cs in children.values() for c in cs}
    a = activity(src, list(kids.values()))
    a = a.mutate(r=rate(a.active, a.capital)).select(child="period", r="r")
    m = period_pairs(src, [(p, c) for p in parents for c in children[str(p)]], ("period", "child"))
    j = m.join(a, "child")
    return j.group_by("period").aggregate(mean_rate=j.r.mean())


def health(src: Sources, periods: list[Period], *, cap: ibis.Table | None = None,
           clv_values: ibis.Table | None = None, act: ibis.Table | None = None,
           bought: ibis.Table | None = None) -> ibis.Table:
    """One row per period of ``periods``, in time order: ``period, capital,
    capital_previous, new_users, growth_rate, dau_rate, wau_rate, interaction_rate, buyers,
    repeat_buyers, repurchase_rate, previous_buyers, returning_buyers,
    next_period_repurchase_rate, orders, gmv, aov, clv_mean`` (rules in the module
    docstring). ``cap`` (:func:`~siyu.models.fast.capital` of ``periods``), ``clv_values``
    (:func:`~siyu.models.fast.clv` of ``periods``), ``act`` and ``bought``
    (:func:`~siyu.models.daily.activity` and :func:`~siyu.models.daily.buyers` of ``periods``
    and their P−1, maybe more) are passed when already at hand."""
    by_name = {str(p): p for p in periods}
    periods = sorted(by_name.values(), key=lambda p: (p.start, p.end))
    both = with_previous(periods)
    pt = periods_table(src, both)
    prev = period_pairs(src, [(p, p.previous()) for p in periods], ("period", "prev"))

    # scale and interaction rate, for P and P−1 at once
    act = activity(src, both) if act is None else of_periods(act, src, both)
    act = act.left_join(new_users(src, pt), "period").drop("period_right")

    # value, for P and P−1
    b = buyers(src, pt) if bought is None else bought
    val = b.group_by("period").aggregate(
        buyers=b.consumer_id.count(), repeat_buyers=(b.purchase_days >= 2).sum(),
        orders=b.orders.sum(), gmv=b.gmv.sum())
    # anyone with a paid order in P (whole local days: a purchase day is in P when its
    # first order is), in the private domain or not
    d = src.purchase_days
    d = d.join(pt, (d.first_at >= pt.p_start) & (d.first_at < pt.p_end))
    ordered = d.select("period", "consumer_id").distinct()
    back = b.select(prev="period", consumer_id="consumer_id").join(prev, "prev")
    back = back.join(ordered, ["period", "consumer_id"])
    back = back.group_by("period").aggregate(returning_buyers=back.consumer_id.count())

    # quality: days and ISO weeks of each period
    days = {str(p): periods_between(period_of(p.start, "day", p.zone),
                                    period_of(p.end - timedelta(days=1), "day", p.zone),
                                    zone=p.zone) for p in periods}
    weeks = {str(p): periods_between(period_of(p.start, "week", p.zone),
                                     period_of(p.end - timedelta(days=1), "week", p.zone),
                                     zone=p.zone) for p in periods}
    dau = _mean_rate(src, periods, days).rename(dau_rate="mean_rate")
    wau = _mean_rate(src, periods, weeks).rename(wau_rate="mean_rate")

    cur = act.left_join(val, "period").drop("period_right")
    # P−1 of every P is among the rows, so the row before P is P−1: a lag, not a self-join
    # (which would compute every part twice)
    w = ibis.window(order_by=cur.p_start)
    cur = cur.mutate(capital_previous=cur.capital.lag().over(w),
                     previous_buyers=cur.buyers.lag().over(w))
    t = prev.join(cur, "period")
    cv = clv(src, periods, cap=cap) if clv_values is None else clv_values
    cv = cv.group_by("period").aggregate(clv_mean=cv.clv.cast("float64").mean())
    for part in (back, dau, wau, cv):
        t = t.left_join(part, "period").drop("period_right")
    n = {c: t[c].fill_null(0).cast("int64") for c in
         ("capital", "capital_previous", "new_users", "buyers", "repeat_buyers",
          "previous_buyers", "returning_buyers", "orders")}
    t = t.mutate(**n, gmv=t.gmv.fill_null(0))
    t = t.mutate(
        growth_rate=rate(t.capital, t.capital_previous) - 1,
        interaction_rate=rate(t.engaged, t.capital),
        repurchase_rate=rate(t.repeat_buyers, t.buyers),
        next_period_repurchase_rate=rate(t.returning_buyers, t.previous_buyers),
        aov=rate(t.gmv, t.orders),
    )
    return t.select(
        "period", "p_start", "capital", "capital_previous", "new_users", "growth_rate",
        "dau_rate", "wau_rate", "interaction_rate", "buyers", "repeat_buyers",
        "repurchase_rate", "previous_buyers", "returning_buyers",
        "next_period_repurchase_rate", "orders", "gmv", "aov", "clv_mean",
    ).order_by("p_start").drop("p_start")
