"""The materialised metric families: one :class:`Result` per warehouse table.

Each result computes its rows for a :class:`Batch` of periods of one grain by calling the
models of :mod:`siyu.models` (nothing is re-implemented here) and returns an Arrow table whose
first column is ``period``; :mod:`siyu.results.compute` adds ``grain`` and stores the rows in
``metrics_<name>``. The registry :data:`RESULTS` is the one list of what ``siyu metrics
compute`` writes; docs/metrics.md describes the tables.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property

import ibis
import pyarrow as pa

from siyu.models.community import LEVEL_KEYS
from siyu.models.periods import Period
from siyu.models.sources import Sources

__all__ = ["Batch", "Result", "RESULTS", "result_names"]


@dataclass
class Batch:
    """Periods of one grain computed together, with the expressions they share.

    ``pairs`` (the tier of every consumer at end(P−1) and end(P), the costliest part) is
    cached in the engine by :func:`siyu.results.compute.compute_batch` for the batch's
    lifetime and reused by every family that needs tiers."""

    src: Sources
    periods: list[Period]
    pairs: ibis.Table | None = None
    keep: bool = True
    """Cache intermediate tables in the engine (``Table.cache()``) while the batch lives."""
    _community: dict = field(default_factory=dict)
    _kept: list = field(default_factory=list)

    @cached_property
    def cap(self) -> ibis.Table:
        from siyu.models.fast import capital

        return capital(self.src, self.periods, pairs=self.pairs)

    def _cached(self, t: ibis.Table) -> ibis.Table:
        """``t``, kept in the engine while the batch lives when ``keep``."""
        if self.keep:
            t = t.cache()
            self._kept.append(t)
        return t

    @cached_property
    def clv(self) -> ibis.Table:
        """:func:`siyu.models.fast.clv` of the batch (FAST+, CLV by tier and health read
        it)."""
        from siyu.models.fast import clv

        return self._cached(clv(self.src, self.periods, cap=self.cap))

    @cached_property
    def with_previous(self) -> list[Period]:
        """The batch's periods and the P−1 of each, in time order."""
        from siyu.models.periods import with_previous

        return with_previous(self.periods)

    @cached_property
    def activity(self) -> ibis.Table:
        """:func:`siyu.models.daily.activity` of :attr:`with_previous` (daily and health
        read it)."""
        from siyu.models.daily import activity

        return self._cached(activity(self.src, self.with_previous))

    @cached_property
    def buyers(self) -> ibis.Table:
        """:func:`siyu.models.daily.buyers` of :attr:`with_previous` (daily, health and GMV
        read it)."""
        from siyu.models.daily import buyers
        from siyu.models.sources import periods_table

        return self._cached(buyers(self.src, periods_table(self.src, self.with_previous)))

    def rows(self, expr: ibis.Table) -> pa.Table:
        """The rows of ``expr`` (a model's output over the batch's periods), ``period`` as
        the periods' names."""
        return self.src.labelled(expr, self.periods).to_pyarrow()

    def community(self) -> dict:
        """:func:`siyu.models.community.community_periods` of the batch, built once."""
        from siyu.models.community import community_periods

        if not self._community:
            self._community.update(community_periods(
                self.src, self.periods, keep=self._kept if self.keep else None))
        return self._community

    def release(self) -> None:
        """Drop the engine tables cached for the batch."""
        for t in self._kept:
            t.release()
        self._kept.clear()
        self._community.clear()


@dataclass(frozen=True)
class Result:
    """One materialised family: warehouse table ``metrics_<name>``."""

    name: str
    doc: str
    build: Callable[[Batch], pa.Table | ibis.Table]
    """The family's rows for a batch: an Arrow table, or (for one row per consumer) an
    expression that :mod:`siyu.results.compute` stores from the engine while the batch's
    cached tables live."""
    whole: bool = False
    """Computed over all the data at once (not per period): entry cohorts."""

    @property
    def table(self) -> str:
        return f"metrics_{self.name}"


# -- FAST+ (§5–§6) -------------------------------------------------------------------------

def _fast(b: Batch) -> pa.Table:
    from siyu.models.fast import TIER_KEYS, conversion, tier_counts

    conv = conversion(b.src, b.periods, pairs=b.pairs)
    counts = tier_counts(b.src, b.periods, pairs=b.pairs)
    # tier counts as columns (a conditional sum per tier: engine-neutral)
    cols = {TIER_KEYS[t]: (counts.tier == t).ifelse(counts.n, 0).sum().cast("int64")
            for t in TIER_KEYS}
    tiers = counts.group_by("period").aggregate(**cols)
    c = b.clv
    money = c.group_by("period").aggregate(clv_consumers=c.count(), clv_total=c.clv.sum())
    p = ibis.memtable({"period": [b.src.period_key(q) for q in b.periods]},
                      schema={"period": b.src.period_type})
    t = p.left_join(conv, "period").drop("period_right")
    t = t.left_join(tiers, "period").drop("period_right")
    t = t.left_join(money, "period").drop("period_right")
    fills = {k: t[k].fill_null(0).cast("int64") for k in
             ("capital", "previous_capital", "deepened", *TIER_KEYS.values(), "clv_consumers")}
    t = t.mutate(**fills, clv_total=t.clv_total.fill_null(0).cast("decimal(18, 2)"))
    t = t.mutate(clv_mean=ibis.ifelse(t.clv_consumers > 0,
                                      t.clv_total.cast("float64") / t.clv_consumers, None))
    return b.rows(t.select("period", "capital", "previous_capital", "deepened", "conversion",
                           *TIER_KEYS.values(), "clv_consumers", "clv_total", "clv_mean"))


def _transitions(b: Batch) -> pa.Table:
    from siyu.models.fast import transitions

    t = transitions(b.src, b.periods, pairs=b.pairs)
    return b.rows(t.select("period", before=t.before.cast("int8"), after=t.after.cast("int8"),
                           n=t.n.cast("int64")))


def _connection(b: Batch) -> pa.Table:
    from siyu.models.fast import connection

    parts = []
    for by in ("field", "field_ref"):
        c = connection(b.src, b.periods, by, cap=b.cap)
        parts.append(c.select("period", by=ibis.literal(by), key=c[by],
                              visitors=c.visitors.cast("int64"),
                              connected=c.connected.cast("int64"), rate=c.rate))
    return b.rows(parts[0].union(parts[1]))


def _clv_by_tier(b: Batch) -> pa.Table:
    from siyu.models.fast import clv_by_tier

    t = clv_by_tier(b.src, b.periods, values=b.clv)
    return b.rows(t.select("period", tier=t.tier.cast("int8"),
                           consumers=t.consumers.cast("int64"),
                           total=t.total.cast("decimal(18, 2)"),
                           mean=t.total.cast("float64") / t.consumers))


def _consumer_tiers(b: Batch) -> pa.Table | ibis.Table:
    """The tier of every consumer with tier ≥ 1 at end(P) (§5; absent: 0), month grain only
    (the consumer 360° page reads its six-month tier history here while fresh), sorted by
    consumer id so that one consumer's rows sit in few row groups. One row per consumer and
    period: returned as an expression, stored from the engine without passing through
    Python."""
    if b.periods[0].grain != "month":
        return pa.schema([("period", pa.string()), ("consumer_id", pa.string()),
                          ("tier", pa.int8())]).empty_table()
    p = b.pairs
    t = p.filter(p.after >= 1)
    # sorted by the model's consumer and period keys, kept beside the names: in cached
    # sources they are numbers given in the order of the names (cheaper to sort than text)
    t = t.select("period", "consumer_id", tier=t.after.cast("int8"), _c=t.consumer_id,
                 _p=t.period)
    t = b.src.labelled(b.src.named(t), b.periods)
    t = t.order_by(["_c", "_p"])
    return t.select(period=t.period.cast("string"), consumer_id=t.consumer_id.cast("string"),
                    tier=t.tier)


# -- GMV (§7) ------------------------------------------------------------------------------

_GMV_SCHEMA = pa.schema([
    ("period", pa.string()), ("users", pa.int64()), ("buyers", pa.int64()),
    ("orders", pa.int64()), ("gmv", pa.decimal128(18, 2)), ("conversion", pa.float64()),
    ("frequency", pa.float64()), ("aov", pa.float64()), ("previous_gmv", pa.decimal128(18, 2)),
    ("change", pa.decimal128(18, 2)), ("attr_users", pa.decimal128(18, 2)),
    ("attr_conversion", pa.decimal128(18, 2)), ("attr_frequency", pa.decimal128(18, 2)),
    ("attr_aov", pa.decimal128(18, 2)),
])


def _gmv(b: Batch) -> pa.Table:
    """Factors of each period and the LMDI attribution of its change from P−1 (null parts
    when a factor of either period is 0 or undefined, as in ``siyu metrics gmv``)."""
    from siyu.models.gmv import FACTORS, _cents, factors_of, gmv_factors, lmdi

    first_prev = b.periods[0].previous()
    key = b.src.period_key
    pb = b.pairs
    prev_cap = pb.filter((pb.period == key(b.periods[0])) & (pb.before >= 1))
    prev_cap = prev_cap.select(period=ibis.literal(key(first_prev), b.src.period_type),
                               consumer_id=prev_cap.consumer_id, tier=prev_cap.before)
    cap = b.cap.union(prev_cap)
    fac = gmv_factors(b.src, [first_prev, *b.periods], cap=cap, bought=b.buyers)
    fac = fac.to_pyarrow().to_pylist()
    counts = {r["period"]: (int(r["users"]), int(r["buyers"]), int(r["orders"]),
                            Decimal(str(r["gmv"]))) for r in fac}
    zero = (0, 0, 0, Decimal(0))
    rows = []
    for p in b.periods:
        now, before = counts.get(key(p), zero), counts.get(key(p.previous()), zero)
        f1, f0 = factors_of(*now[:3], float(now[3])), factors_of(*before[:3], float(before[3]))
        change = now[3] - before[3]
        parts = dict.fromkeys(FACTORS)
        if all(f0[k] and f1[k] for k in FACTORS):
            parts = _cents(lmdi(f0, f1), float(change))
        row = {"period": str(p), "users": now[0], "buyers": now[1], "orders": now[2],
               "gmv": now[3], "conversion": f1["conversion"], "frequency": f1["frequency"],
               "aov": f1["aov"], "previous_gmv": before[3], "change": change}
        row.update({f"attr_{k}": None if v is None else Decimal(str(v)).quantize(Decimal("0.01"))
                    for k, v in parts.items()})
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=_GMV_SCHEMA)


def _gmv_by_field(b: Batch) -> pa.Table:
    from siyu.models.gmv import gmv_by_field

    t = gmv_by_field(b.src, b.periods)
    return b.rows(t.select("period", "field", gmv=t.gmv.cast("decimal(18, 2)")))


# -- daily monitoring and health (§8) ------------------------------------------------------

def _daily(b: Batch) -> pa.Table:
    from siyu.models.daily import daily

    t = daily(b.src, b.periods, act=b.activity, bought=b.buyers)
    return b.rows(t.drop("p_start", "p_end"))


def _health(b: Batch) -> pa.Table:
    from siyu.models.health import health

    t = health(b.src, b.periods, cap=b.cap, clv_values=b.clv, act=b.activity,
               bought=b.buyers)
    return b.rows(t.mutate(gmv=t.gmv.cast("decimal(18, 2)")))


def _cohorts(b: Batch) -> pa.Table:
    """Entry cohorts of the batch's grain (day, week or month; quarter and year use month)
    over all the data."""
    from siyu.models.cohorts import COHORT_GRAINS, cohorts

    grain = b.periods[0].grain
    grain = grain if grain in COHORT_GRAINS else "month"
    t = cohorts(b.src, grain)
    return t.rename(period="cohort").to_pyarrow()


# -- RFM (§9) and churn (§10) at end(P) ----------------------------------------------------

def _rfm(b: Batch) -> pa.Table:
    from siyu.models.rfm import rfm_period_segments, rfm_periods

    s = rfm_period_segments(rfm_periods(b.src, b.periods))
    return b.rows(s.select("period", "segment", buyers=s.buyers.cast("int64"),
                           monetary=s.monetary.cast("decimal(18, 2)"),
                           gmv_share=s.gmv_share))


def _churn(b: Batch) -> pa.Table:
    from siyu.models.churn import churn_summaries

    c = churn_summaries(b.src, b.periods, cap=b.cap)
    return b.rows(c.select("period", *[c[k].cast("int64").name(k) for k in
                                       ("private", "high_risk", "no_engaged",
                                        "unread_message", "no_view")], rate=c.rate))


# -- community (§11) -----------------------------------------------------------------------



def _community(b: Batch) -> pa.Table:
    """Every level of :func:`siyu.models.community.community` in one table: ``level``
    (overall, by_type, by_store, groups) and ``key`` (group type, store id or group id; empty
    for overall), then the level's counts and rates (null where a level has no such column)."""
    out = b.community()
    frames = []
    for level, key in LEVEL_KEYS.items():
        t = out[level]
        k = ibis.literal("") if key is None else t[key].fill_null("").cast("string")
        extra = [c for c in ("name", "group_type", "store_id") if c in t.columns
                 and c != key]
        t = t.drop(*extra).mutate(level=ibis.literal(level), key=k)
        if key is not None:
            t = t.drop(key)
        frames.append(b.rows(t))
    return _concat(frames)


def _community_joins(b: Batch) -> pa.Table:
    joins = b.community()["joins"]
    frames = []
    for level, key in LEVEL_KEYS.items():
        t = joins[level]
        k = ibis.literal("") if key is None else t[key].fill_null("").cast("string")
        t = t.select("period", level=ibis.literal(level), key=k,
                     source=t.source, joins=t.joins.cast("int64"))
        frames.append(b.rows(t))
    return _concat(frames)


def _concat(frames: list[pa.Table]) -> pa.Table:
    """Tables with overlapping columns as one (missing columns null), ``period, level, key``
    first."""
    names: list[str] = ["period", "level", "key"]
    types: dict[str, pa.DataType] = {}
    for f in frames:
        for fld in f.schema:
            if fld.name not in names:
                names.append(fld.name)
            if not pa.types.is_null(fld.type):
                types.setdefault(fld.name, fld.type)
    schema = pa.schema([(n, types.get(n, pa.string())) for n in names])
    out = []
    for f in frames:
        cols = [f[n].cast(schema.field(n).type) if n in f.column_names
                else pa.nulls(f.num_rows, schema.field(n).type) for n in names]
        out.append(pa.Table.from_arrays(cols, schema=schema))
    return pa.concat_tables(out)


RESULTS: tuple[Result, ...] = (
    Result("fast", "FAST+ per period: Capital, deepened, Conversion, tier counts, CLV "
                   "(§5–§6)", _fast),
    Result("transitions", "Non-empty cells of the P−1 → P tier matrix (§6)", _transitions),
    Result("connection", "Connection per field and per field_ref (§6)", _connection),
    Result("clv_by_tier", "CLV per tier at end(P) (§6)", _clv_by_tier),
    Result("consumer_tiers", "Tier of each consumer at end(P), tier ≥ 1, month grain only "
                             "(§5)", _consumer_tiers),
    Result("gmv", "Private-domain GMV, its four factors and the LMDI attribution (§7)", _gmv),
    Result("gmv_by_field", "GMV per order field (§7)", _gmv_by_field),
    Result("daily", "Monitoring per period: new users, rates, exits (§8)", _daily),
    Result("health", "Scale / quality / value health set (§8)", _health),
    Result("rfm", "RFM segments at end(P): buyers, M, GMV share (§9)", _rfm),
    Result("churn", "Churn-risk flags at end(P) (§10)", _churn),
    Result("community", "Community metrics per level and key (§11)", _community),
    Result("community_joins", "Group joins by source per level and key (§11)",
           _community_joins),
    Result("cohorts", "Entry cohorts and N-day retention, all data (§8)", _cohorts,
           whole=True),
)
"""What ``siyu metrics compute`` writes, in order."""


def result_names() -> list[str]:
    return [r.name for r in RESULTS]
