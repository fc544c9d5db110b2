"""Periods of DOMAIN.md §1 in the brand's zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from siyu.errors import UsageError
from siyu.models.periods import (
    GRAINS,
    parse_period,
    period_key,
    period_of,
    periods_between,
    to_date,
)

SH = ZoneInfo("Asia/Shanghai")
NY = ZoneInfo("America/New_York")


@pytest.mark.parametrize(("text", "grain", "start", "end", "name"), [
    ("2025-03-01", "day", date(2025, 3, 1), date(2025, 3, 2), "2025-03-01"),
    ("2025-W09", "week", date(2025, 2, 24), date(2025, 3, 3), "2025-W09"),
    ("2025-w01", "week", date(2024, 12, 30), date(2025, 1, 6), "2025-W01"),
    ("2025-03", "month", date(2025, 3, 1), date(2025, 4, 1), "2025-03"),
    ("2025-12", "month", date(2025, 12, 1), date(2026, 1, 1), "2025-12"),
    ("2025-Q1", "quarter", date(2025, 1, 1), date(2025, 4, 1), "2025-Q1"),
    ("2025-Q4", "quarter", date(2025, 10, 1), date(2026, 1, 1), "2025-Q4"),
    ("2025", "year", date(2025, 1, 1), date(2026, 1, 1), "2025"),
])
def test_notations(text, grain, start, end, name):
    p = parse_period(text, zone=SH)
    assert (p.grain, p.start, p.end, str(p)) == (grain, start, end, name)
    assert parse_period(text, grain, zone=SH) == p


def test_bounds_are_brand_midnights_in_utc():
    p = parse_period("2025-03", zone=SH)
    assert p.start_utc == datetime(2025, 2, 28, 16, tzinfo=UTC)
    assert p.end_utc == datetime(2025, 3, 31, 16, tzinfo=UTC)
    # a zone with daylight saving: March 2025 starts at UTC−5 and ends at UTC−4
    q = parse_period("2025-03", zone=NY)
    assert q.start_utc == datetime(2025, 3, 1, 5, tzinfo=UTC)
    assert q.end_utc == datetime(2025, 4, 1, 4, tzinfo=UTC)
    assert parse_period("2025-03-09", zone=NY).end_utc - \
        parse_period("2025-03-09", zone=NY).start_utc == timedelta(hours=23)


def test_previous_and_next_cross_years():
    assert str(parse_period("2025-01", zone=SH).previous()) == "2024-12"
    assert str(parse_period("2025-Q1", zone=SH).previous()) == "2024-Q4"
    assert str(parse_period("2025-W01", zone=SH).previous()) == "2024-W52"
    assert str(parse_period("2026-W53", zone=SH).next()) == "2027-W01"
    assert str(parse_period("2025-12-31", zone=SH).next()) == "2026-01-01"


@pytest.mark.parametrize(("text", "grain"), [
    ("2025-13", None), ("2025-W54", None), ("2025-Q5", None), ("March", None),
    ("2025-02-30", None), ("2025-03", "week"), ("2025-W09", "month"),
])
def test_bad_names_say_what_was_expected(text, grain):
    with pytest.raises(UsageError, match="expected"):
        parse_period(text, grain, zone=SH)


def test_periods_between():
    got = [str(p) for p in periods_between("2025-11", "2026-02", zone=SH)]
    assert got == ["2025-11", "2025-12", "2026-01", "2026-02"]
    assert periods_between("2025-03", "2025-02", zone=SH) == []
    with pytest.raises(UsageError):
        periods_between("2025-03", "2025-Q2", zone=SH)


@given(d=st.dates(date(2000, 1, 1), date(2100, 12, 31)), grain=st.sampled_from(GRAINS))
def test_every_day_lies_in_exactly_one_period_and_names_round_trip(d, grain):
    p = period_of(d, grain, SH)
    assert p.start <= d < p.end
    assert p.previous().end == p.start and p.next().start == p.end
    assert parse_period(str(p), grain, zone=SH) == p


_ANY_PERIOD = st.builds(lambda d, grain, whole: period_of(d, grain, SH) if whole
                        else to_date(d, grain, SH),
                        st.dates(date(2000, 1, 1), date(2100, 12, 31)),
                        st.sampled_from(GRAINS), st.booleans())


@given(a=_ANY_PERIOD, b=_ANY_PERIOD)
def test_period_keys_are_equal_exactly_when_names_and_grains_are(a, b):
    """The number that names a period inside cached sources never merges two periods (of any
    grains, whole or to-date) and never splits one."""
    same = (str(a), a.grain) == (str(b), b.grain)
    assert (period_key(a) == period_key(b)) == same
    assert 0 < period_key(a) < 2**63


def test_period_keys_of_neighbours_differ_across_grains():
    day = parse_period("2025-03-01", zone=SH)
    month = parse_period("2025-03", zone=SH)
    first_of_month = to_date(date(2025, 3, 1), "month", SH)
    keys = {period_key(p) for p in (day, month, first_of_month, month.previous(),
                                    parse_period("2025-Q1", zone=SH), parse_period("2025", zone=SH))}
    assert len(keys) == 6
