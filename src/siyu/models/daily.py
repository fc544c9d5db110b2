"""Daily monitoring (DOMAIN.md §8) for each of a list of periods (a day by default).

For a period P, with Capital(P) = consumers in the private domain at end(P) (tier ≥ 1, any
active relationship, §4–§6) and C = Capital at start(P) (= at end(P−1)):

    new users         consumers whose first-ever relationship start falls in P
    capital           |Capital(P)|
    activity rate     consumers in Capital(P) with a visit-type interaction in P / |Capital(P)|
    interaction rate  consumers in Capital(P) with an engaged interaction in P / |Capital(P)|
    conversion rate   consumers in Capital(P) with a paid order in P / |Capital(P)|
    churn rate        consumers in C with no active relationship at end(P) / |C|
    group exits       relationships of field ``group_chat`` that ended in P
    unfollows         relationships of fields official_account, shop, subscription,
                      video_channel that ended in P

Visit types are every interaction type but ``message_sent``; engaged types are like, comment,
message, checkin (§2). Refunded orders count nowhere (§4). A rate whose denominator is 0 is
null. Exits and unfollows count the ``end`` events that close an active stretch (§4, see
:func:`siyu.models.relationships.stretches`): an ``end`` with nothing active to end (a repeated
``end``, or one before any ``start``) is not an exit. A consumer who leaves and re-joins within
P counts one exit per ``end``, is not churned (active again at end(P)), and is a new user only
if the first ``start`` ever is in P.

Everything is computed for all periods at once, joined against :func:`periods_table`.
"""

from __future__ import annotations

from datetime import timedelta

import ibis

from siyu.models.periods import Period
from siyu.models.relationships import active_at
from siyu.models.sources import Sources, periods_table

__all__ = ["daily", "private_at", "activity", "new_users", "buyers", "of_periods", "period_days",
           "capital_counts", "rate", "GROUP_FIELDS", "UNFOLLOW_FIELDS"]

GROUP_FIELDS = ("group_chat",)
UNFOLLOW_FIELDS = ("official_account", "shop", "subscription", "video_channel")


def rate(num: ibis.Value, den: ibis.Value) -> ibis.Value:
    """``num / den`` as a float; null when ``den`` is 0 (never 0, never an error)."""
    return num.cast("float64") / den.nullif(0).cast("float64")


def private_at(src: Sources, p: ibis.Table, at: str = "p_end") -> ibis.Table:
    """``(period, consumer_id)`` of the consumers in the private domain (some relationship
    active, §4) at the instant in column ``at`` of the periods table ``p``."""
    st = src.stretches
    j = st.join(p, (st.started_at < p[at]) & (st.ended_at.isnull() | (st.ended_at >= p[at])))
    return j.select(j.period, j.consumer_id).distinct()


def _in_period(t: ibis.Table, p: ibis.Table, ts: str) -> ibis.Table:
    return t.join(p, (t[ts] >= p.p_start) & (t[ts] < p.p_end))


def _counts(p: ibis.Table, parts: list[ibis.Table]) -> ibis.Table:
    """``p`` (one row per period) with the count columns of each of ``parts`` (keyed by
    ``period``), 0 where a part has no row."""
    t = p
    names: list[str] = []
    for part in parts:
        t = t.left_join(part, "period").drop("period_right")
        names += [c for c in part.columns if c != "period"]
    return t.mutate(**{c: t[c].fill_null(0).cast("int64") for c in names})


def capital_counts(src: Sources, p: ibis.Table) -> ibis.Table:
    """``(period, capital)``: how many consumers are in the private domain at ``p_end`` of
    each period of ``p`` (periods end at a brand-local midnight, §1).

    Counted without listing them: at the end of local day d, the islands
    (:func:`~siyu.models.relationships.islands`) that started on or before d minus those that
    also ended on or before d — so any number of periods costs one pass over the islands
    (grouped by day, :attr:`Sources.island_days`) and a join of the periods with the days
    that have events."""
    ev = src.island_days
    last = p.select("period", last_day=(p.p_end - ibis.interval(seconds=1)).date())
    j = last.join(ev, ev.day <= last.last_day)
    return j.group_by("period").aggregate(capital=j.delta.sum().cast("int64"))


def period_days(src: Sources, periods: list[Period]) -> ibis.Table:
    """``(period, day, p_end)``: every brand-local day of each of ``periods`` (periods are whole
    local days, §1), to join day-level rows to periods by equality instead of a range."""
    rows = [(src.period_key(p), p.start + timedelta(days=d), p.end_utc) for p in periods
            for d in range(p.days)]
    return ibis.memtable({"period": [r[0] for r in rows], "day": [r[1] for r in rows],
                          "p_end": [r[2] for r in rows]},
                         schema={"period": src.period_type, "day": "date",
                                 "p_end": "timestamp('UTC')"})


def activity(src: Sources, periods: list[Period]) -> ibis.Table:
    """Per period of ``periods``: ``capital``, ``active`` (visit-type interaction in P) and
    ``engaged`` (engaged interaction in P), both among Capital(P), plus the
    :func:`periods_table` columns. One row per period, counts 0 when nothing happened.

    Capital comes from :func:`capital_counts`; the visitors of P are read from
    :attr:`Sources.visit_days`, and one is in Capital(P) when one of their islands is active
    at end(P) — so many short periods (the days of a month) cost about as much as one."""
    p = periods_table(src, periods)
    v = src.visit_days
    d = period_days(src, periods)
    isl = src.islands
    if all(q.grain == "day" for q in periods):
        # a day period is one local day and visit_days has one row per consumer and day:
        # each row is a visitor of its day, in Capital(day) when an island is active at the
        # end of that day (compared as local days, so no join of the islands with the days)
        per = v.join(isl, (v.consumer_id == isl.consumer_id) & (isl.start_day <= v.day)
                     & (isl.end_day.isnull() | (isl.end_day > v.day)))
        per = per.select("day", "engaged")
        per = per.join(d, per.day == d.day)
    else:
        per = v.join(d, v.day == d.day)
        per = per.group_by(["period", "p_end", "consumer_id"]).aggregate(
            engaged=per.engaged.any())
        per = per.join(isl, (per.consumer_id == isl.consumer_id)
                       & active_at(isl, per.p_end))
    acts = per.group_by("period").aggregate(
        active=per.count(), engaged=per.engaged.sum())
    return _counts(p, [capital_counts(src, p), acts])


def new_users(src: Sources, p: ibis.Table) -> ibis.Table:
    """``(period, new_users)``: per period of the periods table ``p``, the consumers whose
    first-ever relationship start falls in it (periods without any are absent)."""
    first = _in_period(src.first_starts, p, "first_at")
    return first.group_by("period").aggregate(new_users=first.consumer_id.count())


def buyers(src: Sources, p: ibis.Table) -> ibis.Table:
    """``(period, consumer_id, purchase_days, orders, gmv)``: the buyers of each period of
    the periods table ``p`` (in the private domain at end(P), a paid order in P) and their
    paid orders in P (``gmv`` the exact sum of their amounts).

    Read from :attr:`Sources.purchase_days`: periods are whole local days, so a purchase day
    is in P exactly when its first order is."""
    d = src.purchase_days
    d = d.join(p, (d.first_at >= p.p_start) & (d.first_at < p.p_end))
    isl = src.islands.select(i_id="consumer_id", started_at="started_at", ended_at="ended_at")
    # at most one island of a consumer is active at an instant: an inner join keeps each
    # day once (and, unlike a semi-join with a range condition, stays a hash join)
    d = d.join(isl, (d.consumer_id == isl.i_id) & active_at(isl, d.p_end))
    return d.group_by(["period", "consumer_id"]).aggregate(
        purchase_days=d.count(), orders=d.orders.sum(), gmv=d.amount.sum())


def of_periods(t: ibis.Table, src: Sources, periods: list[Period]) -> ibis.Table:
    """The rows of ``t`` (a model's output, maybe for more periods) that belong to
    ``periods``."""
    return t.filter(t.period.isin([src.period_key(q) for q in periods]))


def daily(src: Sources, periods: list[Period], *, act: ibis.Table | None = None,
          bought: ibis.Table | None = None) -> ibis.Table:
    """One row per period of ``periods`` (any grain; a day for daily monitoring), in time
    order: ``period, p_start, p_end, new_users, capital, active, engaged, buyers, churn_base,
    churned, group_exits, unfollows, activity_rate, interaction_rate, conversion_rate,
    churn_rate`` (rules in the module docstring). ``act`` (:func:`activity`) and ``bought``
    (:func:`buyers`) are passed when already at hand, for these periods and maybe others."""
    p = periods_table(src, periods)
    isl = src.islands

    new = new_users(src, p)

    # buyers: consumers with a paid order in P and an island active at end(P)
    b = buyers(src, p) if bought is None else bought
    nb = b.group_by("period").aggregate(buyers=b.count())

    # churn: C = private at start(P); churned = members of C with no island active at
    # end(P) — those whose island active at start(P) ended inside P and who have no later
    # island active at end(P)
    at_start = p.select("period", p_end=p.p_start)
    base = capital_counts(src, at_start).rename(churn_base="capital")
    gone = isl.join(p, active_at(isl, p.p_start) & isl.ended_at.notnull()
                    & (isl.ended_at < p.p_end))
    gone = gone.select("period", "p_end", "consumer_id")
    back = isl.select(b_id="consumer_id", b_start="started_at", b_end="ended_at")
    again = gone.join(back, (gone.consumer_id == back.b_id) & (back.b_start < gone.p_end)
                      & (back.b_end.isnull() | (back.b_end >= gone.p_end)))
    again = again.select("period", "consumer_id", still=ibis.literal(True)).distinct()
    ch = gone.left_join(again, ["period", "consumer_id"])
    churned = ch.group_by("period").aggregate(churned=ch.still.isnull().sum())
    churn = base.left_join(churned, "period").drop("period_right")

    st = src.stretches
    ends = st.filter(st.ended_at.notnull())
    ends = _in_period(ends, p, "ended_at")
    exits = ends.group_by("period").aggregate(
        group_exits=ends.field.isin(GROUP_FIELDS).sum(),
        unfollows=ends.field.isin(UNFOLLOW_FIELDS).sum())

    t = activity(src, periods) if act is None else of_periods(act, src, periods)
    t = _counts(t, [new, nb, churn, exits])
    t = t.mutate(
        activity_rate=rate(t.active, t.capital),
        interaction_rate=rate(t.engaged, t.capital),
        conversion_rate=rate(t.buyers, t.capital),
        churn_rate=rate(t.churned, t.churn_base),
    )
    return t.select(
        "period", "p_start", "p_end", "new_users", "capital", "active", "engaged", "buyers",
        "churn_base", "churned", "group_exits", "unfollows", "activity_rate",
        "interaction_rate", "conversion_rate", "churn_rate",
    ).order_by("p_start")
