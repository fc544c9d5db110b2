"""Compile an audience tree to an Ibis table of ``consumer_id`` (engine-neutral, no SQL).

Every term is evaluated at ``as_of``, a brand-local day; the instant is the end of that day
(00:00 of the next local day, as for ``siyu metrics rfm --as-of``):

- ``tier``: the §5 ladder over the month containing as_of, cut at as_of (month to date,
  :func:`siyu.models.periods.to_date`); consumers outside the private domain have tier 0.
- ``rfm``: the §9 segment at the instant; consumers without a paid order in the lookback have
  no segment (``rfm = …`` and ``rfm != …`` are both false for them; ``not rfm = …`` holds).
- ``clv_decile`` / ``churn_decile``: the warehouse table ``clv_predictions`` as last written by
  ``siyu clv predict`` (its own as_of, not the audience's). The CLV decile ranks ``total``
  ascending, ties sharing the lower decile: ⌊10·(rank−1)/n⌋ + 1, as the churn deciles do.
- attributes (``city``, ``province``, ``gender``, ``birthday_month``): the latest ``consumers``
  row over all the consumer's keys (by import run, then line); a missing value matches nothing.
- ``in_field(field[, field_ref])``: a relationship active at the instant (§4).
- event aggregates ``kind(last N[, filter…]) op x``: events in ``[instant − N days, instant)``
  that pass every filter (:func:`event_rows`); a consumer with no event has 0, so
  ``orders(last 30d) = 0`` includes every consumer without one. Order filters on ``category``
  or ``sku`` look at the order's lines (:func:`event_values`).
- ``tag`` and ``in_audience``: the tables ``tag_values(consumer_id, tag, value)`` and
  ``audience_members(audience, consumer_id)``; :class:`AudienceNotReady` while they do not exist.
- ``not x``: the consumers in ``identity_map`` that are not in ``x``.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property

import ibis

from siyu.audience.ast import (
    And,
    Compare,
    EventAgg,
    InAudience,
    InField,
    Node,
    Not,
    Or,
    TagTerm,
    Value,
)
from siyu.errors import SiyuError
from siyu.i18n import tr
from siyu.models.periods import to_date
from siyu.models.relationships import active_at
from siyu.models.sources import Sources
from siyu.schema import ENGAGED_TYPES, VISIT_TYPES

__all__ = ["compile_audience", "AudienceNotReady", "TAG_VALUES", "AUDIENCE_MEMBERS",
           "PREDICTIONS", "event_rows", "event_values", "term_values", "ZERO_TERMS",
           "latest_attributes", "ATTRIBUTE_TERMS"]

TAG_VALUES = "tag_values"
AUDIENCE_MEMBERS = "audience_members"
PREDICTIONS = "clv_predictions"

ZERO_TERMS = ("tier",)
"""Comparison terms whose missing value is 0 (consumers outside the private domain)."""

_PY_OPS: dict[str, Callable] = {"=": operator.eq, "!=": operator.ne, "<": operator.lt,
                                "<=": operator.le, ">": operator.gt, ">=": operator.ge}


class AudienceNotReady(SiyuError):
    """A term needs a table that has not been computed yet (tags, audiences, predictions,
    identities)."""


def _matches(col: ibis.Value, op: str, value: Value) -> ibis.Value:
    if op == "in":
        return col.isin(list(value))  # type: ignore[arg-type]
    return _PY_OPS[op](col, value)


def _zero_matches(op: str, value: Value) -> bool:
    """Whether the value 0 (no events, tier 0) satisfies ``op value``."""
    if op == "in":
        return 0 in value  # type: ignore[operator]
    return bool(_PY_OPS[op](0, value))


@dataclass(frozen=True)
class _Compiler:
    src: Sources
    as_of: date
    tag_table: str = TAG_VALUES

    @cached_property
    def instant(self) -> datetime:
        """End of the local day ``as_of`` as a UTC instant."""
        zone = self.src.settings.zone
        return datetime.combine(self.as_of + timedelta(days=1), time(0),
                                tzinfo=zone).astimezone(UTC)

    @cached_property
    def tables(self) -> set[str]:
        return set(self.src.con.list_tables())

    def need(self, name: str, zh: str, en: str) -> ibis.Table:
        if name not in self.tables:
            raise AudienceNotReady(tr(zh, en, t=name))
        return self.src.table(name)

    @cached_property
    def universe(self) -> ibis.Table:
        """Every consumer in identity_map."""
        m = self.need("identity_map", "尚未进行身份合并（OneID）；请先运行 `siyu identity resolve`",
                      "identities were never resolved; run `siyu identity resolve` first")
        return m.select("consumer_id").distinct()

    def ids(self, t: ibis.Table) -> ibis.Table:
        return t.select("consumer_id").distinct()

    def with_zero(self, values: ibis.Table) -> ibis.Table:
        """``values (consumer_id, v)`` over the whole universe, 0 where absent."""
        u = self.universe
        j = u.left_join(values, u.consumer_id == values.consumer_id)
        return j.select(u.consumer_id, v=j.v.fill_null(0))

    def where(self, values: ibis.Table, op: str, value: Value, zero: bool = False) -> ibis.Table:
        """Consumers whose ``v`` satisfies ``op value``; with ``zero``, absent ones count as
        0."""
        if zero and _zero_matches(op, value):
            values = self.with_zero(values)
        return self.ids(values.filter(_matches(values.v, op, value)))

    # -- nodes -----------------------------------------------------------------------------
    def node(self, n: Node) -> ibis.Table:
        if isinstance(n, And):
            parts = [self.node(i) for i in n.items]
            return parts[0].intersect(*parts[1:])
        if isinstance(n, Or):
            parts = [self.node(i) for i in n.items]
            return parts[0].union(*parts[1:], distinct=True)
        if isinstance(n, Not):
            return self.universe.difference(self.node(n.item))
        if isinstance(n, Compare):
            return self.where(self.values(n.term), n.op, n.value, zero=n.term in ZERO_TERMS)
        if isinstance(n, EventAgg):
            return self.event(n)
        if isinstance(n, InField):
            return self.in_field(n)
        if isinstance(n, TagTerm):
            return self.tag(n)
        if isinstance(n, InAudience):
            return self.in_audience(n)
        raise TypeError(f"not an audience node: {n!r}")

    def values(self, term: str) -> ibis.Table:
        """``(consumer_id, v)``: comparison term ``term``'s value of every consumer who has
        one (tier: consumers outside the private domain have no row; they count as 0)."""
        return getattr(self, f"values_{term}", self.attribute_values)(term)

    def values_tier(self, _term: str) -> ibis.Table:
        from siyu.models.tiers import tiers

        period = to_date(self.as_of, "month", self.src.settings.zone)
        t = tiers(self.src, [period])  # type: ignore[list-item]
        return t.select("consumer_id", v=t.tier.cast("int64"))

    def values_rfm(self, _term: str) -> ibis.Table:
        from siyu.models.rfm import rfm

        t = rfm(self.src, self.instant)
        return t.select("consumer_id", v=t.segment)

    def _predictions(self) -> ibis.Table:
        return self.need(PREDICTIONS, "尚无 CLV 预测（表 {t}）；请先运行 `siyu clv fit` 和 "
                         "`siyu clv predict`", "no CLV predictions (table {t}) yet; run "
                         "`siyu clv fit` and `siyu clv predict` first")

    def values_churn_decile(self, _term: str) -> ibis.Table:
        p = self._predictions()
        return p.select("consumer_id", v=p.churn_decile.cast("int64"))

    def values_clv_decile(self, _term: str) -> ibis.Table:
        p = self._predictions()
        rank0 = ibis.rank().over(order_by=p.total)  # min rank of ties, 0-based
        decile = (rank0 * 10) // p.consumer_id.count().over() + 1
        return p.select("consumer_id", v=decile.cast("int64"))

    @cached_property
    def attributes(self) -> ibis.Table:
        """The latest ``consumers`` row of each consumer (over all their keys)."""
        c = self.src.with_consumer("consumers")
        w = ibis.window(group_by=c.consumer_id,
                        order_by=[ibis.desc(c._load_id), ibis.desc(c._line)])
        c = c.mutate(rn=ibis.row_number().over(w))
        return c.filter(c.rn == 0)

    def attribute_values(self, term: str) -> ibis.Table:
        a = self.attributes
        return a.select("consumer_id", v=_attribute(a, term))

    def event(self, n: EventAgg) -> ibis.Table:
        agg = event_values(self.src, n, self.instant)
        return self.where(agg, n.op, n.value, zero=True)

    def in_field(self, n: InField) -> ibis.Table:
        st = self.src.stretches
        cond = active_at(st, ibis.literal(self.instant)) & (st.field == n.field)
        if n.field_ref is not None:
            cond = cond & (st.field_ref == n.field_ref)
        return self.ids(st.filter(cond))

    def tag(self, n: TagTerm) -> ibis.Table:
        t = self.need(self.tag_table, "标签尚未计算（表 {t} 不存在）；请先运行 `siyu tag compute`",
                      "tags are not computed yet (no table {t}); run `siyu tag compute` first")
        cond = t.tag == n.name
        if n.value is not None:
            cond = cond & (t.value == n.value)
        return self.ids(t.filter(cond))

    def in_audience(self, n: InAudience) -> ibis.Table:
        t = self.need(AUDIENCE_MEMBERS, "人群尚未计算（表 {t} 不存在）；请先运行 "
                      "`siyu audience refresh`", "audiences are not computed yet (no table "
                      "{t}); run `siyu audience refresh` first")
        return self.ids(t.filter(t.audience == n.name))


ORDER_KINDS = ("orders", "gmv", "purchase_days")
ITEM_FILTERS = ("category", "sku")
_FILTER_COLUMNS = {"dwell": "dwell_seconds"}


def _filter_value(t: ibis.Table, name: str) -> ibis.Value:
    """The column an event filter reads (``category`` of an interaction is the ``category``
    key of its ``attrs``: siyu has no content catalogue)."""
    if name == "category" and "category" not in t.columns:
        return t.attrs.cast("json")["category"].str
    return t[_FILTER_COLUMNS.get(name, name)]


def event_rows(src: Sources, n: EventAgg, instant: datetime) -> tuple[ibis.Table, str]:
    """The events ``n`` counts: rows of paid orders (joined to their matching order lines
    when ``n`` filters on category or sku), shares or interactions in ``[instant − window,
    instant)`` that pass every filter; and the name of their time column."""
    end = ibis.literal(instant)
    start = ibis.literal(instant - timedelta(days=n.days))
    if n.kind in ORDER_KINDS:
        t, at = src.paid_orders, "paid_at"
    elif n.kind == "shares":
        t, at = src.shares, "occurred_at"
    else:
        t, at = src.interactions, "occurred_at"
        types = {"visits": VISIT_TYPES, "engagements": ENGAGED_TYPES,
                 "messages": ("message",), "views": ("view",)}[n.kind]
        t = t.filter(t.type.isin(list(types)))
    t = t.filter((t[at] >= start) & (t[at] < end))
    own = [f for f in n.filters if f.name not in ITEM_FILTERS or n.kind not in ORDER_KINDS]
    for f in own:
        t = t.filter(_matches(_filter_value(t, f.name), f.op, f.value))
    items = [f for f in n.filters if f not in own]
    if items:
        li = src.table("order_items")
        for f in items:
            li = li.filter(_matches(li[f.name], f.op, f.value))
        li = li.select(li.order_id, line_category=li.category, line_sku=li.sku,
                       line_value=li.quantity * li.unit_price)
        t = t.join(li, "order_id")
    return t, at


def event_values(src: Sources, n: EventAgg, instant: datetime) -> ibis.Table:
    """``(consumer_id, v)``: the count or sum of :func:`event_rows` per consumer who has any.
    With a category or sku filter, ``orders`` counts orders holding a matching line and
    ``gmv`` sums the matching lines (quantity × unit_price): an order's amount is not split
    by line."""
    t, at = event_rows(src, n, instant)
    lines = "line_value" in t.columns
    if n.kind == "gmv":
        v = (t.line_value if lines else t.amount).sum().cast("float64")
    elif n.kind == "purchase_days":
        v = t[at].date().nunique()
    elif n.kind == "orders" and lines:
        v = t.order_id.nunique()
    else:
        v = t.count()
    return t.group_by("consumer_id").aggregate(v=v)


ATTRIBUTE_TERMS = ("gender", "city", "province", "birthday_month")


def _attribute(a: ibis.Table, term: str) -> ibis.Value:
    return a.birthday.month() if term == "birthday_month" else a[term]


def latest_attributes(src: Sources) -> ibis.Table:
    """``(consumer_id, gender, city, province, birthday_month)``: every consumer's attributes
    as the attribute terms read them (one query for all four; the index and exports use it)."""
    a = _Compiler(src, date.min).attributes
    return a.select("consumer_id", **{t: _attribute(a, t) for t in ATTRIBUTE_TERMS})


def term_values(src: Sources, term: str, as_of: date) -> ibis.Table:
    """``(consumer_id, v)``: the value of comparison term ``term`` (tier, rfm, deciles,
    attributes) per consumer at the end of ``as_of``, as ``term op value`` compares it; tier
    has no row for consumers outside the private domain (:data:`ZERO_TERMS`: they are 0).
    The bitmap index (:mod:`siyu.audience.index`) is built from these."""
    return _Compiler(src, as_of).values(term)


def compile_audience(src: Sources, tree: Node, as_of: date, *,
                     tag_table: str = TAG_VALUES) -> ibis.Table:
    """A table ``(consumer_id)``, one row per consumer in the audience ``tree`` at the end of
    local day ``as_of``. Raises :class:`AudienceNotReady` when a term's table is missing.
    ``tag_table`` is where ``tag(…)`` terms look (``siyu tag compute`` points rule tags at the
    table it is building)."""
    c = _Compiler(src, as_of, tag_table)
    _ = c.universe  # identities must be resolved
    return c.node(tree)
