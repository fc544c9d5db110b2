"""The model inputs: canonical tables as Ibis expressions, with ``consumer_id`` from OneID.

Every model takes a :class:`Sources` (and periods / an ``as_of``) and returns Ibis expressions;
nothing here knows which engine runs them. Rows whose key is not in ``identity_map`` (imported
after the last ``siyu identity resolve``) are left out: resolve before computing metrics.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property

import ibis

from siyu.config import Settings
from siyu.models.periods import Period, ToDate, period_key

__all__ = ["Sources", "periods_table", "period_pairs"]


@dataclass(frozen=True)
class Sources:
    """Canonical tables of one warehouse, seen through Ibis."""

    con: ibis.BaseBackend
    settings: Settings
    numbered: ibis.Table | None = None
    """``(no, consumer_id)`` when ``consumer_id`` in these sources is a number (see
    :meth:`cached`); None when it is OneID's string id."""
    keyed_periods: bool = False
    """Whether the models name periods by :func:`~siyu.models.periods.period_key` (a number,
    in :meth:`cached` sources) instead of their name (:meth:`period_key`)."""

    @classmethod
    def of(cls, ws) -> Sources:
        return cls(ws.warehouse.ibis, ws.settings)

    def table(self, name: str) -> ibis.Table:
        return self.con.table(name)

    @cached_property
    def identity(self) -> ibis.Table:
        m = self.table("identity_map")
        return m.select(m.key, m.consumer_id)

    def with_consumer(self, name: str, key: str = "consumer_key") -> ibis.Table:
        """Table ``name`` with the OneID ``consumer_id`` of its ``key`` column."""
        t = self.table(name)
        m = self.identity
        j = t.join(m, t[key] == m.key)
        return j.drop("key")

    @cached_property
    def relationships(self) -> ibis.Table:
        return self.with_consumer("relationships")

    @cached_property
    def orders(self) -> ibis.Table:
        return self.with_consumer("orders")

    @cached_property
    def paid_orders(self) -> ibis.Table:
        """Orders with ``status = paid`` (refunded orders count nowhere, §4)."""
        o = self.orders
        return o.filter(o.status == "paid")

    @cached_property
    def purchase_days(self) -> ibis.Table:
        """``(consumer_id, day, first_at, last_at, amount, orders)``: one row per consumer and
        brand-local day with a paid order (a *purchase day*, §5/§9): its first and last
        ``paid_at``, the day's total and its number of orders (``order_id`` is unique, §2).
        The total keeps the money type of ``amount`` (``DECIMAL(18,2)``: one consumer's day
        beyond 10¹⁶ yuan is an error, not a wrong number); sums of it are cheaper to add and
        sort than the engine's wide default for a sum of money."""
        o = self.paid_orders
        return o.group_by(["consumer_id", o.paid_at.date().name("day")]).aggregate(
            first_at=o.paid_at.min(), last_at=o.paid_at.max(),
            amount=o.amount.sum().cast(o.amount.type()), orders=o.count())

    @cached_property
    def shares(self) -> ibis.Table:
        return self.with_consumer("shares")

    @cached_property
    def reviews(self) -> ibis.Table:
        return self.with_consumer("reviews")

    @cached_property
    def interactions(self) -> ibis.Table:
        return self.with_consumer("interactions")

    @cached_property
    def visit_days(self) -> ibis.Table:
        """``(consumer_id, day, engaged)``: one row per consumer and brand-local day with a
        visit-type interaction (§2: every type but ``message_sent``); ``engaged`` when one of
        that day's interactions is an engaged type."""
        from siyu.schema import ENGAGED_TYPES, VISIT_TYPES

        ia = self.interactions
        ia = ia.filter(ia.type.isin(VISIT_TYPES))
        return ia.group_by(["consumer_id", ia.occurred_at.date().name("day")]).aggregate(
            engaged=ia.type.isin(ENGAGED_TYPES).any())

    @cached_property
    def stretches(self) -> ibis.Table:
        """:func:`~siyu.models.relationships.stretches` of every relationship."""
        from siyu.models.relationships import stretches

        return stretches(self.relationships)

    @cached_property
    def first_starts(self) -> ibis.Table:
        """``(consumer_id, first_at)``: each consumer's first-ever relationship start (their
        entry into the private domain: new users, entry cohorts)."""
        st = self.stretches
        return st.group_by("consumer_id").aggregate(first_at=st.started_at.min())

    @cached_property
    def islands(self) -> ibis.Table:
        """:func:`~siyu.models.relationships.islands`: each consumer's time in the private
        domain, with the brand-local days it starts and ends on (``start_day``,
        ``end_day``). As periods are whole local days, an island is active at the end of
        local day d exactly when ``start_day ≤ d`` and ``end_day`` is null or after d."""
        from siyu.models.relationships import islands

        isl = islands(self.stretches)
        return isl.mutate(start_day=isl.started_at.date(), end_day=isl.ended_at.date())

    @cached_property
    def island_days(self) -> ibis.Table:
        """``(day, delta)``: per brand-local day, the islands started that day minus those
        ended that day (days with neither absent) — summed up to a day, how many consumers
        are in the private domain at its end."""
        isl = self.islands
        one = ibis.literal(1, "int64")
        starts = isl.select(day=isl.start_day, delta=one)
        ends = isl.filter(isl.end_day.notnull())
        ends = ends.select(day=ends.end_day, delta=-one)
        ev = starts.union(ends)
        return ev.group_by("day").aggregate(delta=ev.delta.sum())

    CACHED = ("stretches", "first_starts", "islands", "island_days", "paid_orders",
              "purchase_days", "interactions", "visit_days", "shares", "reviews")
    """The inputs :meth:`cached` computes once. The relationship events themselves are not
    kept (every model reads their :attr:`stretches`), nor the refunded orders (no model
    reads them, §4)."""
    NOT_CACHED = ("consumer_key", "event_id", "content_id", "content_type", "dwell_seconds",
                  "text", "sku", "coupon_id", "guide_id", "store_id", "status", "attrs",
                  "_load_id", "_line")
    """Columns no model reads: :meth:`cached` leaves them out of the kept tables (message
    text and attributes are most of the bytes of the interactions; an order's store is
    that of its touchpoint, and every kept order is paid)."""

    def period_key(self, p: Period | ToDate) -> str | int:
        """The value naming ``p`` in the ``period`` columns of the models' tables: its name
        (``"2025-03"``), or a number in :meth:`cached` sources (see :meth:`labelled`)."""
        return period_key(p) if self.keyed_periods else str(p)

    @property
    def period_type(self) -> str:
        """The Ibis type of :meth:`period_key`."""
        return "int64" if self.keyed_periods else "string"

    def labelled(self, t: ibis.Table, periods: list[Period]) -> ibis.Table:
        """``t`` (a model's output over ``periods``) with its ``period`` column as the
        periods' names (a projection: the rows and their order stay)."""
        if not self.keyed_periods:
            return t
        names = {period_key(p): str(p) for p in periods}
        return t.mutate(period=t.period.substitute(names, else_=ibis.null("string")))

    def named(self, t: ibis.Table) -> ibis.Table:
        """``t`` with its ``consumer_id`` column as OneID's string id (a model's output that
        lists consumers, computed on :meth:`cached` sources)."""
        if self.numbered is None:
            return t
        n = self.numbered.rename(_no="no", _id="consumer_id")
        j = t.join(n, t.consumer_id == n._no)
        return j.mutate(consumer_id=j._id).drop("_no", "_id")

    @contextmanager
    def cached(self) -> Iterator[Sources]:
        """Sources whose inputs (:data:`CACHED`: the tables joined to OneID, stretches and
        islands, without the :data:`NOT_CACHED` columns) are computed once and kept in the
        engine (``Table.cache()``) until the block ends — for work that runs many models over
        the same data.

        In them ``consumer_id`` is a 32-bit number given in the order of OneID's string ids
        (cheaper to join, group and sort; ties broken by id come out the same). Counts and
        sums are unchanged; an output that lists consumers goes through :meth:`named`. A
        period, likewise, is a number (:meth:`period_key`); :meth:`labelled` names it."""
        m = self.identity
        ids = m.select("consumer_id").distinct()
        ids = ids.mutate(no=ibis.row_number().over(order_by=ids.consumer_id).cast("int32"))
        ids = ids.cache()
        kept = [ids]
        try:
            c = Sources(self.con, self.settings, numbered=ids, keyed_periods=True)
            keyed = m.join(ids, "consumer_id").select("key", consumer_id="no")
            idm = keyed.cache()
            kept.append(idm)
            c.__dict__["identity"] = idm
            for name in self.CACHED:
                t = getattr(c, name)  # built from the cached inputs before it
                t = t.drop(*[k for k in self.NOT_CACHED if k in t.columns]).cache()
                c.__dict__[name] = t
                kept.append(t)
            # every keyed input is built: the numbered map need not stay in memory. A table
            # joined later to OneID joins the map to the numbers again, so the inputs built
            # on the way and not kept (every order, the relationship events) are forgotten:
            # they would still read the released map
            kept.remove(idm)
            idm.release()
            for name in [k for k in c.__dict__ if k not in self.CACHED and
                         isinstance(getattr(Sources, k, None), cached_property)]:
                del c.__dict__[name]
            c.__dict__["identity"] = keyed
            yield c
        finally:
            for t in kept:
                t.release()


def periods_table(src: Sources, periods: list[Period]) -> ibis.Table:
    """A small table ``(period, p_start, p_end)`` of UTC bounds, to join events against
    (``period`` as :meth:`Sources.period_key`)."""
    return ibis.memtable(
        {"period": [src.period_key(p) for p in periods],
         "p_start": [p.start_utc for p in periods],
         "p_end": [p.end_utc for p in periods]},
        schema={"period": src.period_type, "p_start": "timestamp('UTC')",
                "p_end": "timestamp('UTC')"},
    )


def period_pairs(src: Sources, pairs: list[tuple[Period, Period]], names: tuple[str, str]
                 ) -> ibis.Table:
    """A small table of period pairs (a period and its P−1, a month and its days, …) with
    columns ``names``, each period as :meth:`Sources.period_key`."""
    a, b = names
    key = src.period_key
    return ibis.memtable({a: [key(x) for x, _ in pairs], b: [key(y) for _, y in pairs]},
                         schema={a: src.period_type, b: src.period_type})
