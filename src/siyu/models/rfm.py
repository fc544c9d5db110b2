"""RFM scores and value segments (DOMAIN.md §9) at a snapshot instant ``s`` (``as_of``).

Buyers are the consumers (after OneID) with at least one paid order in the lookback window
``[s − rfm_lookback_days × 24 h, s)``; refunded orders count nowhere. For each buyer, over the
paid orders in that window:

    recency_days  R value = local day of s − local day of the last paid order (brand zone, §1);
                  the CLI's ``--as-of DATE`` is the instant 00:00 of DATE+1, so an order on
                  DATE itself is 1 day old and the freshest possible R value is 1
    frequency     F value = purchase days: distinct brand-local days with a paid order
    monetary      M value = Σ amount (yuan, net paid)

**Scores** (1–5, 5 = recent / frequent / high). Each dimension ranks the n buyers by
*goodness*, ascending, ties broken by ``consumer_id`` ascending: R by ``(−recency_days,
consumer_id)``, F by ``(frequency, consumer_id)``, M by ``(monetary, consumer_id)``. With
``rank`` = 1 … n in that order,

    score = floor(5 · (rank − 1) / n) + 1

so the ranks are cut into 5 groups of equal count (each group has ⌊n/5⌋ or ⌈n/5⌉ buyers; with
n < 5 some scores are unused). Among tied values the larger consumer_id gets the higher rank.

**Segments**, first rule that holds (thresholds are settings):

    new               新客         first-ever paid order (all history before s, not only the
                                   lookback) at or after s − rfm_new_days × 24 h
    high_value_loyal  高价值忠诚客  r, f, m ≥ rfm_loyal_min_score
    churn_warning     流失预警客    r ≤ rfm_warning_max_r and (f ≥ rfm_warning_min_fm or
                                   m ≥ rfm_warning_min_fm)
    potential_repeat  潜力复购客    r ≥ rfm_potential_min_r
    dormant           沉睡客       the rest
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

import ibis

from siyu.models.periods import Period
from siyu.models.sources import Sources

__all__ = ["rfm", "rfm_segments", "rfm_periods", "rfm_period_segments", "SEGMENTS",
           "SEGMENT_ORDER"]

SEGMENTS: dict[str, tuple[str, str]] = {
    "new": ("新客", "new"),
    "high_value_loyal": ("高价值忠诚客", "high-value loyal"),
    "churn_warning": ("流失预警客", "churn warning"),
    "potential_repeat": ("潜力复购客", "potential repeat"),
    "dormant": ("沉睡客", "dormant"),
}
"""Segment code → (Chinese, English) label, in rule order."""
SEGMENT_ORDER: tuple[str, ...] = tuple(SEGMENTS)


def _score(t: ibis.Table, *order, by: list | None = None) -> ibis.Value:
    """floor(5 · (rank − 1) / n) + 1 over ``order`` (ascending goodness, then consumer_id),
    within each group of ``by`` (all rows when None)."""
    rank0 = ibis.row_number().over(group_by=by, order_by=[*order, t.consumer_id])  # 0-based
    n = t.consumer_id.count().over(group_by=by)
    return ((rank0 * 5) // n + 1).cast("int8")


def _segment(cfg, b: ibis.Table, new_since: ibis.Value) -> ibis.Value:
    loyal = cfg.rfm_loyal_min_score
    fm = cfg.rfm_warning_min_fm
    return ibis.cases(
        (b.first_paid_at >= new_since, "new"),
        ((b.r >= loyal) & (b.f >= loyal) & (b.m >= loyal), "high_value_loyal"),
        ((b.r <= cfg.rfm_warning_max_r) & ((b.f >= fm) | (b.m >= fm)), "churn_warning"),
        (b.r >= cfg.rfm_potential_min_r, "potential_repeat"),
        else_="dormant",
    )


def rfm(src: Sources, as_of: datetime) -> ibis.Table:
    """``(consumer_id, recency_days, frequency, monetary, first_paid_at, last_paid_at, r, f, m,
    segment)``: one row per buyer at snapshot ``as_of`` (a tz-aware instant)."""
    cfg = src.settings
    s = ibis.literal(as_of)
    start = ibis.literal(as_of - timedelta(days=cfg.rfm_lookback_days))
    o = src.paid_orders
    o = o.filter(o.paid_at < s)
    first = o.group_by(fid=o.consumer_id).aggregate(first_paid_at=o.paid_at.min())

    w = o.filter(o.paid_at >= start)
    b = w.group_by("consumer_id").aggregate(
        last_paid_at=w.paid_at.max(),
        frequency=w.paid_at.date().nunique().cast("int64"),
        monetary=w.amount.sum(),
    )
    b = b.join(first, b.consumer_id == first.fid).drop("fid")
    b = b.mutate(recency_days=s.date().delta(b.last_paid_at.date(), unit="day").cast("int64"))
    b = b.mutate(
        r=_score(b, b.recency_days.desc()),
        f=_score(b, b.frequency),
        m=_score(b, b.monetary),
    )
    new_since = ibis.literal(as_of - timedelta(days=cfg.rfm_new_days))
    segment = _segment(cfg, b, new_since)
    return b.select("consumer_id", "recency_days", "frequency", "monetary", "first_paid_at",
                    "last_paid_at", "r", "f", "m", segment=segment)


def rfm_segments(table: ibis.Table) -> ibis.Table:
    """``(segment, buyers, monetary, gmv_share)`` of an :func:`rfm` table, one row per segment
    present; ``gmv_share`` = the segment's M / all buyers' M (null when that total is 0)."""
    total = table.monetary.sum().as_scalar()
    g = table.group_by("segment").aggregate(buyers=table.consumer_id.count(),
                                            monetary=table.monetary.sum())
    share = ibis.ifelse(total > 0, g.monetary.cast("float64") / total.cast("float64"), None)
    return g.mutate(gmv_share=share)


def rfm_periods(src: Sources, periods: list[Period]) -> ibis.Table:
    """:func:`rfm` at the end of each of ``periods`` in one query: ``(period, consumer_id,
    recency_days, frequency, monetary, first_paid_at, last_paid_at, r, f, m, segment)``.

    A buyer's first paid order before the snapshot is their first paid order ever (they have
    one in the lookback window, before the snapshot), so it is computed once."""
    cfg = src.settings
    zone = cfg.zone
    ends = [p.end_utc for p in periods]
    starts = [e - timedelta(days=cfg.rfm_lookback_days) for e in ends]
    # the local days of s and of the window start (the engine's session zone is the brand's)
    pt = ibis.memtable(
        {"period": [src.period_key(p) for p in periods], "s": ends, "start": starts,
         "new_since": [e - timedelta(days=cfg.rfm_new_days) for e in ends],
         "s_day": [e.astimezone(zone).date() for e in ends],
         "start_day": [s.astimezone(zone).date() for s in starts]},
        schema={"period": src.period_type, "s": "timestamp('UTC')", "start": "timestamp('UTC')",
                "new_since": "timestamp('UTC')", "s_day": "date", "start_day": "date"})
    d = src.purchase_days
    first = d.group_by(fid=d.consumer_id).aggregate(first_paid_at=d.first_at.min())

    if all(_midnight(s, zone) for s in starts):
        # every window is whole local days: count purchase days, no distinct over orders
        w = d.select("consumer_id", "day", "last_at", "amount").cross_join(
            pt.select("period", "s_day", "start_day"))
        w = w.filter((w.day >= w.start_day) & (w.day < w.s_day))
        b = w.group_by(["period", "consumer_id"]).aggregate(
            last_paid_at=w.last_at.max(), last_day=w.day.max(),
            frequency=w.count().cast("int64"), monetary=w.amount.sum())
    else:  # a window starting inside a local day (a DST change): order by order
        o = src.paid_orders
        w = o.select("consumer_id", "paid_at", "amount").cross_join(
            pt.select("period", "s", "start"))
        w = w.filter((w.paid_at >= w.start) & (w.paid_at < w.s))
        b = w.group_by(["period", "consumer_id"]).aggregate(
            last_paid_at=w.paid_at.max(),
            frequency=w.paid_at.date().nunique().cast("int64"),
            monetary=w.amount.sum(),
        )
        b = b.mutate(last_day=b.last_paid_at.date())
    # the period's constants once per buyer, after the aggregate
    k = pt.select(s_period="period", s_day="s_day", new_since="new_since")
    b = b.join(k, b.period == k.s_period).drop("s_period")
    b = b.join(first, b.consumer_id == first.fid).drop("fid")
    b = b.mutate(recency_days=b.s_day.delta(b.last_day, unit="day").cast("int64"))
    by = [b.period]
    b = b.mutate(
        r=_score(b, b.recency_days.desc(), by=by),
        f=_score(b, b.frequency, by=by),
        # ranked on M in the money type: the same order as the wide sum, a cheaper sort
        m=_score(b, b.monetary.cast("decimal(18, 2)"), by=by),
    )
    return b.select("period", "consumer_id", "recency_days", "frequency", "monetary",
                    "first_paid_at", "last_paid_at", "r", "f", "m",
                    segment=_segment(cfg, b, b.new_since))


def _midnight(at: datetime, zone) -> bool:
    """Whether instant ``at`` is a brand-local midnight."""
    return at.astimezone(zone).time() == time(0)


def rfm_period_segments(table: ibis.Table) -> ibis.Table:
    """:func:`rfm_segments` of an :func:`rfm_periods` table, per period: ``(period, segment,
    buyers, monetary, gmv_share)``."""
    total = table.group_by(tp="period").aggregate(total=table.monetary.sum())
    g = table.group_by(["period", "segment"]).aggregate(buyers=table.consumer_id.count(),
                                                        monetary=table.monetary.sum())
    g = g.join(total, g.period == total.tp).drop("tp")
    share = ibis.ifelse(g.total > 0, g.monetary.cast("float64") / g.total.cast("float64"),
                        None)
    return g.mutate(gmv_share=share).drop("total")
