"""Entry cohorts and their N-day retention (DOMAIN.md §8).

The consumers *entering on* local day d are those whose first-ever relationship start (§4)
falls on d. Such a consumer is *retained for N days* when it has a visit-type interaction
(every type but ``message_sent``, §2) on one of the local days d+1 … d+N; activity on d itself
does not count, and retention does not ask whether the consumer is still in the private
domain. N runs over ``settings.retention_days`` (default 7 and 30).

A cohort of grain ``week`` (ISO, Monday first) or ``month`` is the union of its days'
entrants, each retained relative to their own entry day; its N-day rate = retained / size.

**Completeness.** The data are observed through local day X: by default the day of the
latest interaction (that day counts as fully observed), or, given ``as_of``, the last local
day that ends at or before ``as_of``. A cohort's N-day window is complete when the cohort's
last calendar day + N ≤ X (for a week or month, its last calendar day, not its last
entrant's). An incomplete rate is **null**, and ``complete_N`` is false; the retained count
so far is still given.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Literal

import ibis

from siyu.models.sources import Sources
from siyu.schema import VISIT_TYPES

__all__ = ["cohorts", "COHORT_GRAINS"]

CohortGrain = Literal["day", "week", "month"]
COHORT_GRAINS: tuple[CohortGrain, ...] = ("day", "week", "month")


def _label(start: ibis.Value, grain: CohortGrain) -> ibis.Value:
    """The cohort's name in its grain's notation (``2025-03-01``, ``2025-W09``, ``2025-03``)."""
    if grain == "day":
        return start.strftime("%Y-%m-%d")
    if grain == "week":
        iso_year = (start + ibis.interval(days=3)).year()  # the week's Thursday
        return (iso_year.cast("string") + "-W"
                + start.week_of_year().cast("string").lpad(2, "0"))
    return start.strftime("%Y-%m")


def cohorts(src: Sources, grain: CohortGrain = "day", *, start: date | None = None,
            end: date | None = None, as_of: datetime | None = None,
            days: Sequence[int] | None = None) -> ibis.Table:
    """One row per cohort with entrants, in time order: ``cohort, cohort_start, size``, and
    for each N of ``days`` (default ``settings.retention_days``): ``retained_N``,
    ``complete_N``, ``retention_N`` (null while incomplete).

    ``start``/``end`` (local dates, ``end`` exclusive) keep the consumers entering in
    ``[start, end)``; pass period bounds of ``grain`` to keep whole cohorts. ``as_of``
    (a naive one is brand-local) replaces the data end; relationship starts and visits from
    ``as_of`` on are ignored."""
    if grain not in COHORT_GRAINS:
        raise ValueError(f"cohort grain must be one of {COHORT_GRAINS}, not {grain!r}")
    ns = sorted(set(days if days is not None else src.settings.retention_days))
    if as_of is not None and as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=src.settings.zone)

    f = src.first_starts
    if as_of is not None:
        f = f.filter(f.first_at < as_of)
    e = f.select(cid=f.consumer_id, d=f.first_at.date())
    if start is not None:
        e = e.filter(e.d >= start)
    if end is not None:
        e = e.filter(e.d < end)

    if as_of is None:
        v = src.visit_days.select(vid="consumer_id", vday="day")
    else:
        ia = src.interactions
        ia = ia.filter(ia.type.isin(VISIT_TYPES) & (ia.occurred_at < as_of))
        v = ia.select(vid=ia.consumer_id, vday=ia.occurred_at.date()).distinct()
    j = e.join(v, e.cid == v.vid)
    gap = j.vday.delta(j.d, unit="day")
    j = j.mutate(gap=gap)
    j = j.filter((j.gap >= 1) & (j.gap <= max(ns, default=0)))
    first_back = j.group_by("cid").aggregate(gap=j.gap.min())  # retained for N ⇔ gap ≤ N

    t = e.left_join(first_back, "cid").drop("cid_right")
    if grain == "day":
        cs, last = t.d, t.d
    elif grain == "week":
        cs = t.d.truncate("W")
        last = cs + ibis.interval(days=6)
    else:
        cs = t.d.truncate("M")
        last = cs + ibis.interval(months=1) - ibis.interval(days=1)
    t = t.mutate(cohort_start=cs, cohort_last=last)
    agg = t.group_by(["cohort_start", "cohort_last"]).aggregate(
        size=t.cid.count(),
        **{f"retained_{n}": (t.gap.notnull() & (t.gap <= n)).sum() for n in ns})

    if as_of is None:
        every = src.interactions  # any type, message_sent included, marks the data end
        seen = every.aggregate(through=every.occurred_at.max().date())
    else:
        through = as_of.astimezone(src.settings.zone).date() - timedelta(days=1)
        seen = ibis.memtable({"through": [through]}, schema={"through": "date"})
    agg = agg.cross_join(seen)
    lag = agg.through.delta(agg.cohort_last, unit="day")  # null when there are no data
    cols = {}
    for n in ns:
        done = (lag >= n).fill_null(False)
        cols[f"complete_{n}"] = done
        cols[f"retention_{n}"] = ibis.ifelse(
            done, agg[f"retained_{n}"].cast("float64") / agg.size.cast("float64"),
            ibis.null("float64"))
    agg = agg.mutate(**cols)
    out = ["cohort", "cohort_start", "size"]
    for n in ns:
        out += [f"retained_{n}", f"complete_{n}", f"retention_{n}"]
    agg = agg.mutate(cohort=_label(agg.cohort_start, grain), size=agg.size.cast("int64"))
    agg = agg.mutate(**{f"retained_{n}": agg[f"retained_{n}"].fill_null(0).cast("int64")
                        for n in ns})
    return agg.select(*out).order_by("cohort_start")
