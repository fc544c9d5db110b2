"""Community (社群) metrics (DOMAIN.md §11, seed 002 "社群日常运营效果评估") for a period P,
per group, per group type, per store and overall.

**Groups** are the declared touchpoints with ``field = group_chat`` (the latest imported version
of each ``field_ref``); a missing ``group_type`` counts as ``normal`` and a missing ``store_id``
as no store. ``group_chat`` relationships, messages and orders whose ``field_ref`` is not a
declared group are left out.

At the end of P (the instant ``end(P)``, §1):

    members            consumers with an active group_chat relationship (§4) to the group.
                       A level (type, store, overall) counts distinct consumers, so a person
                       in two of its groups counts once; ``memberships`` counts them twice
    groups             declared groups with ≥ 1 member at end(P). Touchpoints carry no dates,
                       so a member is the only evidence that a group exists at end(P);
                       ``declared_groups`` counts every declared group of the level
    mean_members_per_group  memberships / groups
    stores, stores_covered, store_coverage  (overall and per type) stores in the ``stores``
                       table; those with ≥ 1 group (as above) of the level; their ratio
    at_capacity        groups with members ≥ ``group_capacity`` (seed 002: a new group is
                       started when one reaches 400); per group, a boolean

In P (events with ``start(P) ≤ time < end(P)``; refunded orders count nowhere):

    joins              stretches of group membership (relationships.stretches) opened in P,
                       counted by the ``source`` of their opening ``start`` event (null →
                       ``unknown``; equal-time openings of one person take the smallest source)
    messages           interactions ``type = message, field = group_chat`` in the group, by
                       anyone; interaction_ratio = messages / members
    writers            members at end(P) who wrote such a message in a group of theirs (of the
                       level) in P; active_rate = writers / members
    orders, gmv        paid orders with ``field = group_chat`` and ``field_ref`` = the group;
                       aov = gmv / orders; gmv_share = gmv / all paid GMV in P
    buyers             distinct consumers with such an order; repeat_buyers those with ≥ 2
                       purchase days (distinct local days, over the level's group orders);
                       repurchase_rate = repeat_buyers / buyers
    member_buyers      members at end(P) who bought through a group they are a member of;
                       conversion = member_buyers / members

Every rate with a zero denominator is null.
"""

from __future__ import annotations

import ibis

from siyu.models.periods import Period
from siyu.models.relationships import active_at
from siyu.models.sources import Sources, periods_table

__all__ = ["community", "community_periods", "group_touchpoints", "GROUP_TYPES", "COUNT_COLUMNS",
           "LEVEL_KEYS"]

GROUP_TYPES: tuple[str, ...] = ("normal", "member")
COUNT_COLUMNS: tuple[str, ...] = (
    "declared_groups", "groups", "members", "memberships", "at_capacity", "stores_covered",
    "joins", "messages", "writers", "orders", "buyers", "repeat_buyers", "member_buyers",
)


def group_touchpoints(src: Sources) -> ibis.Table:
    """``(field_ref, name, group_type, store_id)`` of every declared group chat (latest
    version; ``group_type`` defaults to ``normal``, ``store_id`` to ``""``)."""
    tp = src.table("touchpoints")
    tp = tp.filter((tp.field == "group_chat") & tp.field_ref.notnull())
    w = ibis.window(group_by=tp.field_ref, order_by=[tp._load_id.desc(), tp._line.desc()])
    tp = tp.mutate(_n=ibis.row_number().over(w))
    tp = tp.filter(tp._n == 0)
    return tp.select("field_ref", "name", group_type=tp.group_type.fill_null("normal"),
                     store_id=tp.store_id.fill_null(""))


def _rate(num: ibis.Value, den: ibis.Value) -> ibis.Value:
    return ibis.ifelse(den > 0, num.cast("float64") / den.cast("float64"), ibis.null("float64"))


def _attach(base: ibis.Table, t: ibis.Table, key: list[str]) -> ibis.Table:
    j = base.left_join(t, key)
    return j.drop(*[f"{k}_right" for k in key if f"{k}_right" in j.columns])


def community(src: Sources, period: Period, *, keep: list | None = None) -> dict:
    """Community metrics of ``period``: ``{"overall", "by_type", "by_store", "groups"}``
    (Ibis tables; overall has one row, by_type one per type of :data:`GROUP_TYPES`, by_store
    one per store with a declared group — ``""`` for groups without a store —, groups one per
    declared group), ``"joins"`` (the same four levels → tables of joins by ``source``) and
    ``"total_gmv"`` (Ibis scalar: all paid GMV in P).

    :func:`community_periods` of ``[period]`` without its ``period`` column. With ``keep``
    (a list), the shared tables are cached in the engine (``Table.cache()``) and appended to
    it, so reading several levels computes them once; the caller releases them."""
    out = community_periods(src, [period], keep=keep)

    def one(t: ibis.Table) -> ibis.Table:
        return t.drop("period")

    o = src.paid_orders
    paid = o.filter((o.paid_at >= ibis.literal(period.start_utc))
                    & (o.paid_at < ibis.literal(period.end_utc)))
    return {**{k: one(out[k]) for k in LEVEL_KEYS},
            "joins": {k: one(t) for k, t in out["joins"].items()},
            "total_gmv": paid.amount.sum()}


LEVEL_KEYS: dict[str, str | None] = {"overall": None, "by_type": "group_type",
                                     "by_store": "store_id", "groups": "field_ref"}
"""The levels of :func:`community`, each with the column naming its rows (None: one row)."""


def community_periods(src: Sources, periods: list[Period], *,
                      keep: list | None = None) -> dict:
    """:func:`community` of every period of ``periods`` at once: the same tables
    (``"overall", "by_type", "by_store", "groups"`` and ``"joins"``) with a first column
    ``period``, one query per table whatever the number of periods.

    Every level is rolled up from three small tables: one row per (period, consumer, group)
    with the flags member / wrote / bought, one row per (period, group) with its counts, and
    the distinct (period, consumer, group, local day) of group orders. With ``keep`` (a
    list), those tables are cached in the engine (``Table.cache()``) and appended to it; the
    caller releases them."""

    def kept(t: ibis.Table) -> ibis.Table:
        if keep is None:
            return t
        t = t.cache()
        keep.append(t)
        return t

    pt = periods_table(src, periods)
    labels = pt.select("period")
    cap = src.settings.group_capacity
    stores = src.table("stores")
    attrs = group_touchpoints(src)
    attrs = attrs.mutate(_all=ibis.literal(1, "int8"),
                         _store_ok=attrs.store_id.isin(stores.store_id))

    def in_p(t: ibis.Table, ts: str) -> ibis.Table:
        """``t`` with the ``period`` whose ``[start, end)`` holds column ``ts`` (the periods
        are few: a cross join then a filter)."""
        j = t.cross_join(pt)
        j = j.filter((j[ts] >= j.p_start) & (j[ts] < j.p_end))
        return j.drop("p_start", "p_end")

    # events of P (and membership at end(P)) in declared groups
    st = src.stretches
    st = st.filter(st.field == "group_chat")
    mem = st.cross_join(pt)
    mem = mem.filter(active_at(mem, mem.p_end))
    mem = mem.select("period", "consumer_id", "field_ref").distinct()

    # a join is a membership stretch opened in P, with the source of the start opening it
    joins = in_p(st, "started_at")
    joins = joins.mutate(source=joins.source.fill_null("unknown"))
    joins = joins.group_by(["period", "field_ref", "source"]).aggregate(joins=joins.count())
    joins = kept(joins.join(attrs, "field_ref"))

    i = src.interactions
    msgs = i.filter((i.type == "message") & (i.field == "group_chat"))
    msgs = in_p(msgs, "occurred_at").select("period", "consumer_id", "field_ref")

    paid = in_p(src.paid_orders, "paid_at")
    orders = paid.filter((paid.field == "group_chat") & paid.field_ref.notnull())
    orders = orders.select("period", "consumer_id", "field_ref", "paid_at", "amount")

    # (period, consumer, group) with flags
    yes, no = ibis.literal(True), ibis.literal(False)
    pairs = ibis.union(
        mem.select("period", "consumer_id", "field_ref", member=yes, wrote=no, bought=no),
        msgs.select("period", "consumer_id", "field_ref", member=no, wrote=yes, bought=no),
        orders.select("period", "consumer_id", "field_ref", member=no, wrote=no, bought=yes),
    )
    pairs = pairs.group_by(["period", "consumer_id", "field_ref"]).aggregate(
        member=pairs.member.any(), wrote=pairs.wrote.any(), bought=pairs.bought.any())
    pairs = kept(pairs.join(attrs, "field_ref"))

    # one row per period and declared group
    per_group = labels.cross_join(attrs)
    per_group = _attach(per_group, pairs.group_by(["period", "field_ref"]).aggregate(
        n_members=pairs.member.cast("int64").sum()), ["period", "field_ref"])
    per_group = _attach(per_group, msgs.group_by(["period", "field_ref"]).aggregate(
        messages=msgs.count()), ["period", "field_ref"])
    per_group = _attach(per_group, orders.group_by(["period", "field_ref"]).aggregate(
        orders=orders.count(), gmv=orders.amount.sum()), ["period", "field_ref"])
    per_group = kept(per_group.mutate(n_members=per_group.n_members.fill_null(0)))

    days = orders.select("period", "consumer_id", "field_ref",
                         day=orders.paid_at.date()).distinct()
    days = kept(days.join(attrs, "field_ref"))

    totals = _attach(labels, paid.group_by("period").aggregate(total_gmv=paid.amount.sum()),
                     ["period"])
    totals = kept(totals.cross_join(stores.aggregate(stores=stores.store_id.nunique())))

    def level(key: list[str], base: ibis.Table) -> ibis.Table:
        by = ["period", *key]
        pg = per_group
        live = pg.n_members > 0  # a group with a member at end(P)
        t = _attach(labels.cross_join(base), pg.group_by(by).aggregate(
            declared_groups=pg.count(), at_capacity=(pg.n_members >= cap).cast("int64").sum(),
            messages=pg.messages.sum(), orders=pg.orders.sum(), gmv=pg.gmv.sum(),
            groups=live.cast("int64").sum(),
            stores_covered=pg.store_id.nunique(where=live & pg._store_ok)), by)
        # per consumer of the level: member of one of its groups (in how many), writer in a
        # group of theirs, buyer, buyer through a group of theirs — then plain counts
        p = pairs
        flags = dict(m=p.member, w=p.member & p.wrote, b=p.bought, mb=p.member & p.bought)
        if "field_ref" in key:  # pairs have one row per consumer and group already
            c = p.mutate(n=p.member.cast("int64"), **flags)
        else:
            c = p.group_by([*by, "consumer_id"]).aggregate(
                n=p.member.cast("int64").sum(), **{k: v.any() for k, v in flags.items()})
        t = _attach(t, c.group_by(by).aggregate(
            members=c.m.cast("int64").sum(), memberships=c.n.sum(),
            writers=c.w.cast("int64").sum(), buyers=c.b.cast("int64").sum(),
            member_buyers=c.mb.cast("int64").sum()), by)
        t = t.relocate("groups", before="members").relocate("stores_covered",
                                                            after="member_buyers")
        d = days.group_by([*dict.fromkeys([*by, "consumer_id"])]).aggregate(
            n=days.day.nunique())
        t = _attach(t, d.group_by(by).aggregate(
            repeat_buyers=(d.n >= 2).cast("int64").sum()), by)
        t = _attach(t, joins.group_by(by).aggregate(joins=joins.joins.sum()), by)
        if "store_id" in key or "field_ref" in key:
            t = t.drop("stores_covered")

        t = _attach(t, totals, ["period"])
        fills = {c: t[c].fill_null(0).cast("int64") for c in COUNT_COLUMNS if c in t.columns}
        t = t.mutate(**fills, gmv=t.gmv.fill_null(0))
        rates = dict(
            mean_members_per_group=_rate(t.memberships, t.groups),
            active_rate=_rate(t.writers, t.members),
            interaction_ratio=_rate(t.messages, t.members),
            conversion=_rate(t.member_buyers, t.members),
            aov=_rate(t.gmv, t.orders),
            gmv_share=_rate(t.gmv, t.total_gmv),
            repurchase_rate=_rate(t.repeat_buyers, t.buyers),
        )
        if "stores_covered" in t.columns:
            rates.update(stores=t.stores.cast("int64"),
                         store_coverage=_rate(t.stores_covered, t.stores))
        return t.mutate(**rates).drop(*[c for c in ("total_gmv", "stores")
                                        if c not in rates])

    overall = level(["_all"], ibis.memtable({"_all": [1]}, schema={"_all": "int8"}))
    by_type = level(["group_type"], ibis.memtable({"group_type": list(GROUP_TYPES)},
                                                  schema={"group_type": "string"}))
    by_store = level(["store_id"], attrs.select("store_id").distinct())
    groups = level(["field_ref"], attrs.select("field_ref", "name", "group_type", "store_id"))
    groups = groups.mutate(at_capacity=groups.at_capacity > 0)

    def joins_by(key: list[str]) -> ibis.Table:
        return joins.group_by(["period", *key, "source"]).aggregate(joins=joins.joins.sum())

    return {
        "overall": overall.drop("_all"),
        "by_type": by_type,
        "by_store": by_store,
        "groups": groups,
        "joins": {"overall": joins_by([]), "by_type": joins_by(["group_type"]),
                  "by_store": joins_by(["store_id"]), "groups": joins_by(["field_ref"])},
    }
