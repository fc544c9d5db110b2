"""Stretches of relationship activity (DOMAIN.md §4), checked directly on the model function:
exact answers for hand-built event sequences, and a hypothesis property against a plain Python
walk of the rule (one start after nothing or an end opens a stretch, the next end closes it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import ibis
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from siyu.models.relationships import stretches

T0 = datetime(2025, 3, 1, tzinfo=UTC)
SCHEMA = {"consumer_id": "string", "field": "string", "field_ref": "string",
          "action": "string", "occurred_at": "timestamp('UTC')", "source": "string"}


@pytest.fixture(scope="module")
def con():
    return ibis.duckdb.connect()


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def run(con, events: list[tuple]) -> list[tuple]:
    """``stretches`` of ``events`` ``(consumer, field, ref, action, minute, source)``, as
    sorted tuples ``(consumer, field, ref, start minute, end minute or None, source)``."""
    cols = list(SCHEMA)
    rows = {c: [e[i] if c != "occurred_at" else at(e[i]) for e in events]
            for i, c in enumerate(cols)}
    t = ibis.memtable(pa.table(rows, schema=ibis.schema(SCHEMA).to_pyarrow()))
    out = con.execute(stretches(t)).to_dict("records")

    def minute(x):
        return None if x is None or x != x else round((x - T0).total_seconds() / 60)

    got = [(r["consumer_id"], r["field"], r["field_ref"], minute(r["started_at"]),
            minute(r["ended_at"]), r["source"] if isinstance(r["source"], str) else None)
           for r in out]
    return sorted(got, key=repr)


def test_a_leave_and_rejoin_makes_two_stretches(con):
    ev = [("a", "wecom", "g1", "start", 0, "qr"), ("a", "wecom", "g1", "end", 60, None),
          ("a", "wecom", "g1", "start", 120, "link"), ("a", "wecom", "g1", "end", 180, None)]
    assert run(con, ev) == [("a", "wecom", "g1", 0, 60, "qr"),
                            ("a", "wecom", "g1", 120, 180, "link")]


def test_repeated_starts_and_ends_and_an_end_before_any_start(con):
    ev = [("b", "member", None, "end", 0, None),        # ends nothing
          ("b", "member", None, "start", 10, "s1"),
          ("b", "member", None, "start", 20, "s2"),     # already active: opens nothing
          ("b", "member", None, "end", 30, None),       # closes the stretch from 10
          ("b", "member", None, "end", 40, None),       # nothing active to end
          ("b", "member", None, "start", 50, None)]     # still active
    assert run(con, ev) == [("b", "member", "", 10, 30, "s1"),
                            ("b", "member", "", 50, None, None)]


def test_at_one_instant_the_start_counts_first_and_the_least_source_opens(con):
    ev = [("c", "group", "g", "end", 5, None), ("c", "group", "g", "start", 5, None),
          ("c", "group", "g", "start", 5, "b"), ("c", "group", "g", "start", 5, "a")]
    assert run(con, ev) == [("c", "group", "g", 5, 5, "a")]


def test_fields_refs_and_consumers_are_separate_relationships(con):
    ev = [("d", "wecom", "x", "start", 0, None), ("d", "wecom", "y", "end", 10, None),
          ("d", "member", "x", "end", 10, None), ("e", "wecom", "x", "end", 10, None),
          ("d", "wecom", "", "start", 20, None), ("d", "wecom", None, "end", 30, None)]
    assert run(con, ev) == [("d", "wecom", "", 20, 30, None),
                            ("d", "wecom", "x", 0, None, None)]


def reference(events: list[tuple]) -> list[tuple]:
    """The rule of §4 walked in Python: events of one relationship in time order, an end
    after a start at equal times, among starts the least source first (missing last)."""
    by: dict[tuple, list[tuple]] = {}
    for c, f, r, action, m, source in events:
        by.setdefault((c, f, r or ""), []).append((m, action == "end", source is None,
                                                   source or "", action, source))
    out = []
    for key, evs in by.items():
        opened = None
        for m, _, _, _, action, source in sorted(evs, key=lambda e: e[:4]):
            if action == "start" and opened is None:
                opened = (m, source)
            elif action == "end" and opened is not None:
                out.append((*key, opened[0], m, opened[1]))
                opened = None
        if opened is not None:
            out.append((*key, opened[0], None, opened[1]))
    return sorted(out, key=repr)


event = st.tuples(st.sampled_from(["p", "q"]), st.sampled_from(["wecom", "member"]),
                  st.sampled_from([None, "", "g"]), st.sampled_from(["start", "end"]),
                  st.integers(0, 6), st.sampled_from([None, "a", "b"]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                HealthCheck.function_scoped_fixture])
@given(st.lists(event, max_size=14))
def test_stretches_follow_the_rule_for_any_events(con, events):
    assert run(con, events) == reference(events)
