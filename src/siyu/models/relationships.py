"""Relationship state (DOMAIN.md §4) as stretches of activity.

A relationship (consumer, field, field_ref) is *active at t* when its last event before t is a
``start``. Its events, in time order (at equal times an ``end`` counts after a ``start``), fall
into stretches: a stretch opens at a ``start`` that follows nothing or an ``end`` and closes at
the next ``end``. Then

    active at t  ⇔  some stretch has  started_at < t  and  (ended_at is null or ended_at ≥ t)

which is what every "at end of P" question uses (in the private domain, member, group member).

A consumer's stretches in every field merge into **islands**: maximal intervals during which
some relationship of theirs is active (in the private domain, §4). At any instant a consumer
has at most one island active, so counting the private domain at an instant is counting
islands (:func:`islands`).
"""

from __future__ import annotations

from datetime import UTC, datetime

import ibis

__all__ = ["stretches", "islands", "active_at"]

_OPEN = datetime(9999, 12, 31, tzinfo=UTC)
"""Stands for "not ended" while islands are merged."""

KEYS = ("consumer_id", "field", "field_ref")


def stretches(rel: ibis.Table) -> ibis.Table:
    """``(consumer_id, field, field_ref, started_at, ended_at, source)``, one row per stretch
    of activity; ``ended_at`` is null while it lasts; ``source`` is that of the ``start``
    that opened it (of several starts at that instant, the least source; null when none has
    one). ``rel`` has the relationship columns and ``consumer_id``."""
    rel = rel.mutate(field_ref=rel.field_ref.fill_null(""))
    # at equal times: starts before ends, and among starts the least source first (nulls
    # last), so the start that opens a stretch carries the least source of its instant
    def order(x: ibis.Table) -> list[ibis.Value]:
        return [x.occurred_at, (x.action == "end").cast("int8"), x.source.isnull().cast("int8"),
                x.source]

    # one pass (one sort): a stretch is a start after nothing or an end; it closes at the
    # first end after it
    w = ibis.window(group_by=list(KEYS), order_by=order(rel))
    later = ibis.window(group_by=list(KEYS), order_by=order(rel), rows=(1, None))
    t = rel.mutate(prev=rel.action.lag().over(w),
                   next_end=ibis.ifelse(rel.action == "end", rel.occurred_at, None)
                   .min().over(later))
    t = t.filter((t.action == "start") & (t.prev.isnull() | (t.prev == "end")))
    return t.select(*KEYS, started_at=t.occurred_at, ended_at=t.next_end, source=t.source)


def islands(stretches_: ibis.Table) -> ibis.Table:
    """``(consumer_id, started_at, ended_at)``: the stretches of each consumer (any field)
    merged where they overlap or touch; ``ended_at`` is null while the island lasts.

    A stretch is active on the instants ``(started_at, ended_at]``, so a stretch that starts
    when (or before) an earlier one ends continues its island: an island starts at a stretch
    whose start is after every earlier stretch's end."""
    open_ = ibis.literal(_OPEN, "timestamp('UTC')")
    st = stretches_.select("consumer_id", "started_at", e=stretches_.ended_at.fill_null(open_))
    order = [st.started_at, st.e]
    before = ibis.window(group_by=st.consumer_id, order_by=order, rows=(None, -1))
    st = st.mutate(prev_end=st.e.max().over(before))
    st = st.mutate(new=(st.prev_end.isnull() | (st.started_at > st.prev_end)).cast("int64"))
    upto = ibis.window(group_by=st.consumer_id, order_by=[st.started_at, st.e], rows=(None, 0))
    st = st.mutate(island=st.new.sum().over(upto))
    g = st.group_by(["consumer_id", "island"]).aggregate(started_at=st.started_at.min(),
                                                         e=st.e.max())
    return g.select("consumer_id", "started_at",
                    ended_at=ibis.ifelse(g.e == open_, ibis.null("timestamp('UTC')"), g.e))


def active_at(stretches_: ibis.Table, at_col: ibis.Value) -> ibis.Value:
    """Whether a stretch is active at instant ``at_col`` (a column or literal)."""
    return (stretches_.started_at < at_col) & (
        stretches_.ended_at.isnull() | (stretches_.ended_at >= at_col))
