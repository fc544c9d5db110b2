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
- event aggregates ``kind(last N) op x``: events in ``[instant − N days, instant)``; a consumer
  with no event has 0, so ``orders(last 30d) = 0`` includes every consumer without one.
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
           "PREDICTIONS"]

TAG_VALUES = "tag_values"
AUDIENCE_MEMBERS = "audience_members"
PREDICTIONS = "clv_predictions"

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
            return getattr(self, f"term_{n.term}", self.attribute)(n)
        if isinstance(n, EventAgg):
            return self.event(n)
        if isinstance(n, InField):
            return self.in_field(n)
        if isinstance(n, TagTerm):
            return self.tag(n)
        if isinstance(n, InAudience):
            return self.in_audience(n)
        raise TypeError(f"not an audience node: {n!r}")

    def term_tier(self, n: Compare) -> ibis.Table:
        from siyu.models.tiers import tiers

        period = to_date(self.as_of, "month", self.src.settings.zone)
        t = tiers(self.src, [period])  # type: ignore[list-item]
        return self.where(t.select("consumer_id", v=t.tier.cast("int64")), n.op, n.value,
                          zero=True)

    def term_rfm(self, n: Compare) -> ibis.Table:
        from siyu.models.rfm import rfm

        t = rfm(self.src, self.instant)
        return self.where(t.select("consumer_id", v=t.segment), n.op, n.value)

    def _predictions(self) -> ibis.Table:
        return self.need(PREDICTIONS, "尚无 CLV 预测（表 {t}）；请先运行 `siyu clv fit` 和 "
                         "`siyu clv predict`", "no CLV predictions (table {t}) yet; run "
                         "`siyu clv fit` and `siyu clv predict` first")

    def term_churn_decile(self, n: Compare) -> ibis.Table:
        p = self._predictions()
        return self.where(p.select("consumer_id", v=p.churn_decile.cast("int64")), n.op,
                          n.value)

    def term_clv_decile(self, n: Compare) -> ibis.Table:
        p = self._predictions()
        rank0 = ibis.rank().over(order_by=p.total)  # min rank of ties, 0-based
        decile = (rank0 * 10) // p.consumer_id.count().over() + 1
        return self.where(p.select("consumer_id", v=decile.cast("int64")), n.op, n.value)

    @cached_property
    def attributes(self) -> ibis.Table:
        """The latest ``consumers`` row of each consumer (over all their keys)."""
        c = self.src.with_consumer("consumers")
        w = ibis.window(group_by=c.consumer_id,
                        order_by=[ibis.desc(c._load_id), ibis.desc(c._line)])
        c = c.mutate(rn=ibis.row_number().over(w))
        return c.filter(c.rn == 0)

    def attribute(self, n: Compare) -> ibis.Table:
        a = self.attributes
        v = a.birthday.month() if n.term == "birthday_month" else a[n.term]
        return self.where(a.select("consumer_id", v=v), n.op, n.value)

    def event(self, n: EventAgg) -> ibis.Table:
        end = ibis.literal(self.instant)
        start = ibis.literal(self.instant - timedelta(days=n.days))
        if n.kind in ("orders", "gmv", "purchase_days"):
            t, at = self.src.paid_orders, "paid_at"
        elif n.kind == "shares":
            t, at = self.src.shares, "occurred_at"
        else:
            t, at = self.src.interactions, "occurred_at"
            types = {"visits": VISIT_TYPES, "engagements": ENGAGED_TYPES,
                     "messages": ("message",), "views": ("view",)}[n.kind]
            t = t.filter(t.type.isin(list(types)))
        t = t.filter((t[at] >= start) & (t[at] < end))
        if n.kind == "gmv":
            v = t.amount.sum().cast("float64")
        elif n.kind == "purchase_days":
            v = t.paid_at.date().nunique()
        else:
            v = t.count()
        agg = t.group_by("consumer_id").aggregate(v=v)
        return self.where(agg, n.op, n.value, zero=True)

    def in_field(self, n: InField) -> ibis.Table:
        st = self.src.stretches
        cond = active_at(st, ibis.literal(self.instant)) & (st.field == n.field)
        if n.field_ref is not None:
            cond = cond & (st.field_ref == n.field_ref)
        return self.ids(st.filter(cond))

    def tag(self, n: TagTerm) -> ibis.Table:
        t = self.need(TAG_VALUES, "标签尚未计算（表 {t} 不存在）；请先运行 `siyu tag compute`",
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


def compile_audience(src: Sources, tree: Node, as_of: date) -> ibis.Table:
    """A table ``(consumer_id)``, one row per consumer in the audience ``tree`` at the end of
    local day ``as_of``. Raises :class:`AudienceNotReady` when a term's table is missing."""
    c = _Compiler(src, as_of)
    _ = c.universe  # identities must be resolved
    return c.node(tree)
