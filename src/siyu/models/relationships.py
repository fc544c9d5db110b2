"""Relationship state (DOMAIN.md §4) as stretches of activity.

A relationship (consumer, field, field_ref) is *active at t* when its last event before t is a
``start``. Its events, in time order (at equal times an ``end`` counts after a ``start``), fall
into stretches: a stretch opens at a ``start`` that follows nothing or an ``end`` and closes at
the next ``end``. Then

    active at t  ⇔  some stretch has  started_at < t  and  (ended_at is null or ended_at ≥ t)

which is what every "at end of P" question uses (in the private domain, member, group member).
"""

from __future__ import annotations

import ibis

__all__ = ["stretches", "active_at"]

KEYS = ("consumer_id", "field", "field_ref")


def stretches(rel: ibis.Table) -> ibis.Table:
    """``(consumer_id, field, field_ref, started_at, ended_at)``, one row per stretch of
    activity; ``ended_at`` is null while it lasts. ``rel`` has the relationship columns and
    ``consumer_id``."""
    rel = rel.mutate(field_ref=rel.field_ref.fill_null(""))
    order = [rel.occurred_at, (rel.action == "end").cast("int8")]
    w = ibis.window(group_by=list(KEYS), order_by=order)
    t = rel.mutate(prev=rel.action.lag().over(w))
    t = t.mutate(
        opened=((t.action == "start") & (t.prev.isnull() | (t.prev == "end"))).cast("int64"),
        closes=(t.action == "end") & (t.prev == "start"),
    )
    run = ibis.window(group_by=list(KEYS), order_by=[t.occurred_at,
                                                     (t.action == "end").cast("int8")],
                      rows=(None, 0))
    t = t.mutate(stretch=t.opened.sum().over(run))
    t = t.filter(t.stretch > 0)  # ends before any start close nothing
    s = t.group_by([*KEYS, "stretch"]).aggregate(
        started_at=t.occurred_at.min(where=t.opened == 1),
        ended_at=t.occurred_at.min(where=t.closes),
    )
    return s.drop("stretch")


def active_at(stretches_: ibis.Table, at_col: ibis.Value) -> ibis.Value:
    """Whether a stretch is active at instant ``at_col`` (a column or literal)."""
    return (stretches_.started_at < at_col) & (
        stretches_.ended_at.isnull() | (stretches_.ended_at >= at_col))
