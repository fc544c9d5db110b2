"""FAST+ strategic metrics (DOMAIN.md §6): Capital, Conversion with the tier transition matrix,
Connection per field and per touchpoint, and CLV.

Every piece is an Ibis expression over :class:`~siyu.models.sources.Sources` for any number of
periods; :func:`fast` executes them for one period and returns the JSON-ready result.

- **Capital(P)**: consumers with tier ≥ 1 at end(P).
- **deepened(P)**: consumers with tier ≥ 1 at end(P−1) whose tier at end(P) is higher;
  **Conversion(P)** = deepened(P) / Capital(P−1), null when Capital(P−1) = 0.
- **Transition matrix** P−1 → P: counts of consumers by (tier at end(P−1), tier at end(P)),
  0…5 × 0…5, over the consumers with tier ≥ 1 at one of the two ends — so cell (0, 0) is 0 by
  construction. Row sums 1…5 are the tier counts at end(P−1), column sums 1…5 those at end(P).
- **Connection** of field f in P: among the consumers who visited f in P (an interaction of a
  visit type — every type but ``message_sent`` — in f), the share with tier ≥ 1 at end(P);
  null when f had no visitors. The same per ``field_ref`` (interactions without one count
  only for their field).
- **CLV** at end(P) over W = the ``clv_window_days`` brand-local days before end(P):
  own(u) = Σ basis of u's paid orders in W, propagation(u) = Σ basis of the paid orders in W
  by other consumers attributed to u's shares (§5 a, :func:`~siyu.models.tiers.referee_orders`),
  CLV(u) = own(u) + propagation(u). Basis ``amount``, or ``gross_profit`` (null as 0) with
  ``clv_basis = "profit"``. Brand CLV: mean and total over Capital(P) (a consumer without
  orders has CLV 0), and the mean per tier 1…5 (null for an empty tier).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import ibis

from siyu.models.periods import Period, with_previous
from siyu.models.sources import Sources, period_pairs, periods_table
from siyu.models.tiers import referee_orders, tiers
from siyu.schema import FIELDS, VISIT_TYPES

__all__ = [
    "TIER_KEYS",
    "tier_pairs",
    "capital",
    "transitions",
    "conversion",
    "tier_counts",
    "connection",
    "clv_windows",
    "clv",
    "clv_by_tier",
    "fast",
]

TIER_KEYS = {1: "basic", 2: "member_no_purchase", 3: "member_purchased", 4: "member_repeat",
             5: "koc"}
"""JSON names of tiers 1…5 (§5)."""


def _drop_right(t: ibis.Table, keys: list[str]) -> ibis.Table:
    return t.drop(*[f"{k}_right" for k in keys if f"{k}_right" in t.columns])


def _left(a: ibis.Table, b: ibis.Table, keys: list[str]) -> ibis.Table:
    return _drop_right(a.left_join(b, keys), keys)


def tier_pairs(src: Sources, periods: list[Period]) -> ibis.Table:
    """``(period, consumer_id, before, after)``: tier at end(P−1) and at end(P) of every
    consumer with tier ≥ 1 at one of the two (the other is 0 when absent)."""
    t = tiers(src, with_previous(periods)).select("period", "consumer_id", "tier")
    link = period_pairs(src, [(p, p.previous()) for p in periods], ("period", "prev"))
    after = t.join(link, t.period == link.period).select(
        period=link.period, consumer_id=t.consumer_id, after=t.tier)
    before = t.join(link, t.period == link.prev).select(
        b_period=link.period, b_id=t.consumer_id, before=t.tier)
    # each side has one row per (period, consumer): an outer join pairs them
    j = after.outer_join(before, (after.period == before.b_period)
                         & (after.consumer_id == before.b_id))
    return j.select(period=j.period.coalesce(j.b_period),
                    consumer_id=j.consumer_id.coalesce(j.b_id),
                    before=j.before.fill_null(0).cast("int8"),
                    after=j.after.fill_null(0).cast("int8"))


def _pairs(src: Sources, periods: list[Period], pairs: ibis.Table | None) -> ibis.Table:
    return tier_pairs(src, periods) if pairs is None else pairs


def capital(src: Sources, periods: list[Period], *,
            pairs: ibis.Table | None = None) -> ibis.Table:
    """``(period, consumer_id, tier)``: the Capital(P) consumers (tier ≥ 1 at end(P)), from
    :func:`tier_pairs` when given, else from the ladder directly."""
    if pairs is None:
        return tiers(src, periods).select("period", "consumer_id", "tier")
    t = pairs.filter(pairs.after >= 1)
    return t.select("period", "consumer_id", tier=t.after)


def _capital(src: Sources, periods: list[Period], cap: ibis.Table | None) -> ibis.Table:
    return capital(src, periods) if cap is None else cap


def transitions(src: Sources, periods: list[Period], *,
                pairs: ibis.Table | None = None) -> ibis.Table:
    """``(period, before, after, n)``: the non-empty cells of the P−1 → P tier matrix."""
    t = _pairs(src, periods, pairs)
    return t.group_by(["period", "before", "after"]).aggregate(n=t.count())


def conversion(src: Sources, periods: list[Period], *,
               pairs: ibis.Table | None = None) -> ibis.Table:
    """``(period, capital, previous_capital, deepened, conversion)``; ``conversion`` is null
    when Capital(P−1) = 0 (a period with neither is absent: all 0)."""
    t = _pairs(src, periods, pairs)
    a = t.group_by("period").aggregate(
        capital=(t.after >= 1).cast("int64").sum(),
        previous_capital=(t.before >= 1).cast("int64").sum(),
        deepened=((t.before >= 1) & (t.after > t.before)).cast("int64").sum(),
    )
    rate = ibis.ifelse(a.previous_capital > 0,
                       a.deepened.cast("float64") / a.previous_capital.cast("float64"),
                       ibis.null("float64"))
    return a.mutate(conversion=rate)


def tier_counts(src: Sources, periods: list[Period], *,
                pairs: ibis.Table | None = None) -> ibis.Table:
    """``(period, tier, n)``: consumers per tier 1…5 at end(P) (empty tiers absent)."""
    c = capital(src, periods, pairs=pairs)
    return c.group_by(["period", "tier"]).aggregate(n=c.count())


def connection(src: Sources, periods: list[Period], by: str = "field", *,
               cap: ibis.Table | None = None) -> ibis.Table:
    """``(period, <by>, visitors, connected, rate)`` with ``by`` = ``field`` or
    ``field_ref``: visitors of the field (or touchpoint) in P, those of them with tier ≥ 1 at
    end(P), and their share. Fields or touchpoints without visitors are absent. ``cap`` is
    :func:`capital` of ``periods`` when already at hand."""
    if by not in ("field", "field_ref"):
        raise ValueError(f"by must be 'field' or 'field_ref', not {by!r}")
    p = periods_table(src, periods)
    i = src.interactions
    i = i.filter(i.type.isin(VISIT_TYPES))
    if by == "field_ref":
        i = i.filter(i.field_ref.notnull() & (i.field_ref != ""))
    i = i.cross_join(p)
    i = i.filter((i.occurred_at >= i.p_start) & (i.occurred_at < i.p_end))
    v = i.select("period", by, "consumer_id").distinct()
    # one row per Capital(P) consumer: an equality left join marks the connected visitors
    c = _capital(src, periods, cap)
    c = c.select(c_period="period", c_id="consumer_id")
    v = v.left_join(c, (v.period == c.c_period) & (v.consumer_id == c.c_id))
    a = v.group_by(["period", by]).aggregate(
        visitors=v.count(), connected=v.c_id.notnull().cast("int64").sum())
    return a.mutate(rate=a.connected.cast("float64") / a.visitors.cast("float64"))


def clv_windows(src: Sources, periods: list[Period]) -> ibis.Table:
    """``(period, w_start, w_end)``: W = the ``clv_window_days`` brand-local days before
    end(P), as UTC instants."""
    n = src.settings.clv_window_days

    def start(p: Period) -> datetime:
        return datetime.combine(p.end - timedelta(days=n), time(0),
                                tzinfo=p.zone).astimezone(UTC)

    return ibis.memtable(
        {"period": [src.period_key(p) for p in periods], "w_start": [start(p) for p in periods],
         "w_end": [p.end_utc for p in periods]},
        schema={"period": src.period_type, "w_start": "timestamp('UTC')",
                "w_end": "timestamp('UTC')"},
    )


def _basis(src: Sources, t: ibis.Table) -> ibis.Value:
    if src.settings.clv_basis == "profit":
        return t.gross_profit.fill_null(0)
    return t.amount


def clv(src: Sources, periods: list[Period], *,
        cap: ibis.Table | None = None) -> ibis.Table:
    """``(period, consumer_id, tier, own, propagation, clv)`` for every Capital(P) consumer
    at end(P) (0 when they have no orders in W)."""
    w = clv_windows(src, periods)
    o = src.paid_orders
    o = o.select("consumer_id", "paid_at", value=_basis(src, o)).cross_join(w)
    o = o.filter((o.paid_at >= o.w_start) & (o.paid_at < o.w_end))
    own = o.group_by(["period", "consumer_id"]).aggregate(own=o.value.sum())
    r = _attributed(src).cross_join(w)
    r = r.filter((r.paid_at >= r.w_start) & (r.paid_at < r.w_end))
    prop = r.group_by(["period", r.sharer_id.name("consumer_id")]).aggregate(
        propagation=r.value.sum())
    c = _left(_capital(src, periods, cap), own, ["period", "consumer_id"])
    c = _left(c, prop, ["period", "consumer_id"])
    own_v = c.own.fill_null(0)
    prop_v = c.propagation.fill_null(0)
    return c.select("period", "consumer_id", "tier", own=own_v, propagation=prop_v,
                    clv=own_v + prop_v)


def _attributed(src: Sources) -> ibis.Table:
    """Attributed orders (§5 a) with ``value`` in the CLV basis: ``(order_id, paid_at,
    sharer_id, value)``."""
    r = referee_orders(src)
    return r.select("order_id", "paid_at", "sharer_id", value=_basis(src, r))


def clv_by_tier(src: Sources, periods: list[Period], *,
                cap: ibis.Table | None = None, values: ibis.Table | None = None) -> ibis.Table:
    """``(period, tier, consumers, total)``: Capital consumers and Σ CLV per tier (empty
    tiers absent); the brand mean is Σ total / Σ consumers over the tiers. ``values`` is
    :func:`clv` of ``periods`` when already at hand."""
    c = clv(src, periods, cap=cap) if values is None else values
    return c.group_by(["period", "tier"]).aggregate(consumers=c.count(), total=c.clv.sum())


# -- one period, JSON-ready ----------------------------------------------------------------

def _money(x) -> float:
    return round(float(x), 2)


def _rate(num, den) -> float | None:
    return None if not den else round(num / den, 6)


def fast(src: Sources, period: Period) -> dict:
    """The FAST+ metrics of ``period`` as the JSON object of ``siyu metrics fast --json``."""
    periods = [period]
    with tier_pairs(src, periods).cache() as pairs:
        cells = transitions(src, periods, pairs=pairs).to_pyarrow().to_pylist()
        cap = capital(src, periods, pairs=pairs)
        conn = connection(src, periods, "field", cap=cap).to_pyarrow().to_pylist()
        conn_ref = connection(src, periods, "field_ref", cap=cap).to_pyarrow().to_pylist()
        clv_t = clv_by_tier(src, periods, cap=cap).to_pyarrow().to_pylist()
    return fast_json(str(period), cells, conn, conn_ref, clv_t, src.settings.clv_basis)


def fast_json(period: str, cells: list[dict], conn: list[dict], conn_ref: list[dict],
              clv_t: list[dict], basis: str) -> dict:
    """The JSON object of ``siyu metrics fast`` from the rows of one period: transition cells
    ``(before, after, n)``, connection rows ``(field|field_ref, visitors, connected)`` and CLV
    per tier ``(tier, consumers, total)`` — computed now or read from the stored results."""
    matrix = [[0] * 6 for _ in range(6)]
    for r in cells:
        matrix[int(r["before"])][int(r["after"])] = int(r["n"])
    counts = {t: sum(matrix[b][t] for b in range(6)) for t in range(1, 6)}
    cap = sum(counts.values())
    prev_cap = sum(sum(matrix[b]) for b in range(1, 6))
    deepened = sum(matrix[b][a] for b in range(1, 6) for a in range(b + 1, 6))

    by_field = {f: None for f in FIELDS}
    for r in conn:
        by_field[r["field"]] = _rate(int(r["connected"]), int(r["visitors"]))
    by_ref = {r["field_ref"]: _rate(int(r["connected"]), int(r["visitors"]))
              for r in sorted(conn_ref, key=lambda r: r["field_ref"])}

    total, n, by_tier = Decimal(0), 0, {str(t): None for t in range(1, 6)}
    for r in clv_t:
        t_total, t_n = Decimal(str(r["total"])), int(r["consumers"])
        total += t_total
        n += t_n
        by_tier[str(int(r["tier"]))] = _money(t_total / t_n) if t_n else None

    return {
        "period": period,
        "capital": cap,
        "deepened": deepened,
        "conversion": _rate(deepened, prev_cap),
        "tiers": {TIER_KEYS[t]: counts[t] for t in range(1, 6)},
        "transitions": matrix,
        "connection": by_field,
        "connection_by_ref": by_ref,
        "clv": {
            "mean": _money(total / n) if n else None,
            "total": _money(total),
            "by_tier": by_tier,
            "basis": basis,
        },
    }
