"""Purchase histories for the value models (PRODUCT.md C4), built in the warehouse.

A **transaction** is one consumer's brand-local calendar day with at least one paid order
(refunded orders count nowhere, §4); its amount is the sum of that day's paid amounts. This
is the convention of the BG/NBD and Gamma-Gamma literature (and of the CDNOW analysis the
fits are checked against); :mod:`siyu.value.summary` documents the resulting columns.

- :func:`calibration_summary` — per consumer: frequency, recency, T, monetary (and the
  holdout count) over a calibration window, the input of :mod:`siyu.value`;
- :func:`purchase_cycles` — per consumer and category: the typical interval between
  purchase days, shrunk towards the category's median, and the next-due date.
"""

from __future__ import annotations

from datetime import date

import ibis

from siyu.models.sources import Sources

__all__ = ["transaction_days", "calibration_summary", "purchase_cycles"]


def transaction_days(src: Sources) -> ibis.Table:
    """``(consumer_id, day, amount)``: one row per consumer and brand-local day with a paid
    order, ``amount`` the day's total."""
    return src.purchase_days.select("consumer_id", "day", "amount")


def calibration_summary(src: Sources, calibration_end: date, *,
                        calibration_start: date | None = None,
                        observation_end: date | None = None) -> ibis.Table:
    """``(consumer_id, frequency, recency, T, monetary, first_day, last_day[, holdout])`` for
    every consumer whose first transaction (on or after ``calibration_start``, when given) is
    on or before ``calibration_end``:

        frequency  transaction days − 1 up to calibration_end (inclusive)
        recency    last − first transaction day, in days
        T          calibration_end − first transaction day, in days
        monetary   mean amount of the repeat transactions (the first excluded), 0 when none
        holdout    transaction days in (calibration_end, observation_end]
    """
    d = transaction_days(src)
    cal = d.filter(d.day <= calibration_end)
    if calibration_start is not None:
        cal = cal.filter(cal.day >= calibration_start)
    per = cal.group_by("consumer_id").aggregate(
        first_day=cal.day.min(), last_day=cal.day.max(), n=cal.count(),
        total=cal.amount.sum())
    first = cal.join(per, [cal.consumer_id == per.consumer_id, cal.day == per.first_day])
    first = first.select(consumer_id=cal.consumer_id, first_amount=cal.amount)
    s = per.join(first, "consumer_id")
    end = ibis.literal(calibration_end)
    repeat = (s.n - 1).cast("int64")
    s = s.select(
        "consumer_id",
        frequency=repeat,
        recency=s.last_day.delta(s.first_day, unit="day").cast("float64"),
        T=end.delta(s.first_day, unit="day").cast("float64"),
        monetary=ibis.ifelse(repeat > 0, (s.total - s.first_amount).cast("float64") / repeat,
                             0.0),
        first_day=s.first_day, last_day=s.last_day,
    )
    if observation_end is None:
        return s
    h = d.filter((d.day > calibration_end) & (d.day <= observation_end))
    h = h.group_by("consumer_id").aggregate(holdout=h.count().cast("int64"))
    s = s.left_join(h, "consumer_id").drop("consumer_id_right")
    return s.mutate(holdout=s.holdout.fill_null(0))


def purchase_cycles(src: Sources, as_of: date, *, prior_days: float = 2.0,
                    lookback_days: int | None = None) -> ibis.Table:
    """``(consumer_id, category, purchase_days, intervals, mean_interval, category_median,
    cycle_days, last_day, next_due)`` for every consumer and product category with a paid
    order line up to ``as_of`` (inclusive; from ``as_of − lookback_days`` when given).

    A purchase day of a category is a brand-local day with a paid order holding a line of it.
    With ``k`` intervals between consecutive purchase days and their mean ``m``, and the
    category's median ``M`` of those means over its consumers with k ≥ 1, the cycle is

        cycle_days = (k · m + w · M) / (k + w)         (w = ``prior_days``, ≥ 0)

    — the consumer's own rhythm when they have many intervals, the category's when few (a
    consumer with one purchase day gets M). ``next_due`` = last purchase day + cycle_days
    rounded to whole days (halves up).
    A category without any consumer with two purchase days has no cycle (null)."""
    o = src.paid_orders
    items = src.table("order_items")
    j = o.join(items, o.order_id == items.order_id)
    j = j.select(consumer_id=o.consumer_id, day=o.paid_at.date(),
                 category=items.category.fill_null(""))
    j = j.filter(j.day <= as_of)
    if lookback_days is not None:
        j = j.filter(j.day > ibis.literal(as_of) - ibis.interval(days=lookback_days))
    d = j.select("consumer_id", "category", "day").distinct()
    w = ibis.window(group_by=[d.consumer_id, d.category], order_by=d.day)
    d = d.mutate(prev=d.day.lag().over(w))
    d = d.mutate(gap=d.day.delta(d.prev, unit="day"))
    per = d.group_by(["consumer_id", "category"]).aggregate(
        purchase_days=d.count(), intervals=d.gap.count(), gap_sum=d.gap.sum(),
        last_day=d.day.max())
    per = per.mutate(mean_interval=ibis.ifelse(
        per.intervals > 0, per.gap_sum.cast("float64") / per.intervals, None))
    med = per.filter(per.intervals > 0)
    med = med.group_by("category").aggregate(category_median=med.mean_interval.median())
    t = per.left_join(med, "category").drop("category_right")
    k = t.intervals.cast("float64")
    wt = ibis.literal(float(prior_days))
    own = t.mean_interval.fill_null(0.0)
    cycle = ibis.ifelse(t.category_median.isnull(), t.mean_interval,
                        (k * own + wt * t.category_median) / (k + wt))
    cycle = ibis.ifelse((k + wt) > 0, cycle, t.mean_interval)
    t = t.mutate(cycle_days=cycle)
    due = (t.last_day + t.cycle_days.round().cast("int32").as_interval("D")).cast("date")
    return t.select("consumer_id", "category", purchase_days=t.purchase_days.cast("int64"),
                    intervals=t.intervals.cast("int64"), mean_interval=t.mean_interval,
                    category_median=t.category_median, cycle_days=t.cycle_days,
                    last_day=t.last_day, next_due=due)
