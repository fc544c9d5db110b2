"""Periods (DOMAIN.md §1): half-open intervals ``[start, end)`` of a grain in the brand's zone.

A period is named in its grain's usual notation and knows its bounds both as local dates and
as UTC instants (what the warehouse stores):

>>> from zoneinfo import ZoneInfo
>>> p = parse_period("2025-03", zone=ZoneInfo("Asia/Shanghai"))
>>> (p.grain, str(p), p.start.isoformat(), p.end_utc.isoformat())
('month', '2025-03', '2025-03-01', '2025-03-31T16:00:00+00:00')
>>> str(p.previous()), str(parse_period("2025-W09", zone=p.zone).next())
('2025-02', '2025-W10')
>>> [str(q) for q in periods_between("2025-Q4", "2026-Q1", zone=p.zone)]
['2025-Q4', '2026-Q1']
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from siyu.errors import UsageError
from siyu.i18n import tr

__all__ = ["GRAINS", "Grain", "Period", "ToDate", "parse_period", "period_of", "periods_between",
           "to_date", "period_key", "with_previous"]

Grain = Literal["day", "week", "month", "quarter", "year"]
GRAINS: tuple[Grain, ...] = ("day", "week", "month", "quarter", "year")

_PATTERNS: tuple[tuple[Grain, re.Pattern], ...] = (
    ("day", re.compile(r"(\d{4})-(\d{2})-(\d{2})")),
    ("week", re.compile(r"(\d{4})-W(\d{2})", re.I)),
    ("month", re.compile(r"(\d{4})-(\d{2})")),
    ("quarter", re.compile(r"(\d{4})-Q([1-4])", re.I)),
    ("year", re.compile(r"(\d{4})")),
)
NOTATION = {"day": "2025-03-01", "week": "2025-W09", "month": "2025-03", "quarter": "2025-Q1",
            "year": "2025"}


@dataclass(frozen=True, order=True)
class Period:
    """One period of ``grain`` starting on local date ``start`` (its first day)."""

    start: date
    grain: Grain = field(compare=False)
    zone: ZoneInfo = field(compare=False, repr=False)

    # -- bounds ----------------------------------------------------------------------------
    @property
    def end(self) -> date:
        """The first local day after the period (exclusive end)."""
        s = self.start
        if self.grain == "day":
            return s + timedelta(days=1)
        if self.grain == "week":
            return s + timedelta(days=7)
        months = {"month": 1, "quarter": 3, "year": 12}[self.grain]
        m = s.month - 1 + months
        return date(s.year + m // 12, m % 12 + 1, 1)

    @property
    def start_utc(self) -> datetime:
        return _instant(self.start, self.zone)

    @property
    def end_utc(self) -> datetime:
        """``end(P)`` of §1: the state "at end of P" is after every event before it."""
        return _instant(self.end, self.zone)

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    # -- neighbours ------------------------------------------------------------------------
    def previous(self) -> Period:
        """``P−1``: the period of the same grain just before."""
        return period_of(self.start - timedelta(days=1), self.grain, self.zone)

    def next(self) -> Period:
        return period_of(self.end, self.grain, self.zone)

    def __str__(self) -> str:
        s = self.start
        if self.grain == "day":
            return s.isoformat()
        if self.grain == "week":
            y, w, _ = s.isocalendar()
            return f"{y}-W{w:02d}"
        if self.grain == "month":
            return f"{s.year}-{s.month:02d}"
        if self.grain == "quarter":
            return f"{s.year}-Q{(s.month - 1) // 3 + 1}"
        return str(s.year)


def _instant(d: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(d, time(0), tzinfo=zone).astimezone(UTC)


def period_of(d: date, grain: Grain, zone: ZoneInfo) -> Period:
    """The period of ``grain`` that contains local date ``d``."""
    if grain == "day":
        start = d
    elif grain == "week":  # ISO weeks, Monday first (§1)
        start = d - timedelta(days=d.weekday())
    elif grain == "month":
        start = d.replace(day=1)
    elif grain == "quarter":
        start = date(d.year, (d.month - 1) // 3 * 3 + 1, 1)
    elif grain == "year":
        start = date(d.year, 1, 1)
    else:
        raise UsageError(tr("未知粒度 {g}（可用：{ok}）", "unknown grain {g} (one of {ok})",
                            g=grain, ok=", ".join(GRAINS)))
    return Period(start, grain, zone)


def parse_period(text: str, grain: Grain | None = None, *, zone: ZoneInfo) -> Period:
    """The period named ``text`` (``2025-03-01``, ``2025-W09``, ``2025-03``, ``2025-Q1``,
    ``2025``). With ``grain`` the notation must be that grain's; a bad name raises
    :class:`UsageError` saying what was expected."""
    s = text.strip()
    for g, pat in _PATTERNS:
        m = pat.fullmatch(s)
        if not m:
            continue
        if grain is not None and g != grain:
            break
        try:
            n = [int(x) for x in m.groups()]
            if g == "day":
                return period_of(date(n[0], n[1], n[2]), "day", zone)
            if g == "week":
                return period_of(date.fromisocalendar(n[0], n[1], 1), "week", zone)
            if g == "month":
                return period_of(date(n[0], n[1], 1), "month", zone)
            if g == "quarter":
                return period_of(date(n[0], 3 * n[1] - 2, 1), "quarter", zone)
            return period_of(date(n[0], 1, 1), "year", zone)
        except ValueError:
            break
    want = NOTATION[grain] if grain else " / ".join(NOTATION.values())
    raise UsageError(tr("无法识别的期间 {t}：应写作 {w}", "cannot read period {t!r}: expected {w}",
                        t=text, w=want))


def periods_between(first: str | Period, last: str | Period, grain: Grain | None = None, *,
                    zone: ZoneInfo) -> list[Period]:
    """Every period from ``first`` to ``last`` inclusive (both of one grain)."""
    a = first if isinstance(first, Period) else parse_period(first, grain, zone=zone)
    b = last if isinstance(last, Period) else parse_period(last, a.grain, zone=zone)
    if b.grain != a.grain:
        raise UsageError(tr("起止期间粒度不同", "first and last periods differ in grain"))
    out = []
    p = a
    while p.start <= b.start:
        out.append(p)
        p = p.next()
    return out


@dataclass(frozen=True)
class ToDate:
    """The part of ``period`` up to the end of local day ``day`` (period-to-date: March 1–15
    for ``to_date(2025-03, 2025-03-15)``). Models accept it wherever they take a period: it has
    the same ``start``, ``end``, ``start_utc``, ``end_utc``, ``zone`` and a name
    (``2025-03..15``)."""

    period: Period
    day: date

    @property
    def start(self) -> date:
        return self.period.start

    @property
    def end(self) -> date:
        return self.day + timedelta(days=1)

    @property
    def zone(self) -> ZoneInfo:
        return self.period.zone

    @property
    def grain(self) -> Grain:
        return self.period.grain

    @property
    def start_utc(self) -> datetime:
        return self.period.start_utc

    @property
    def end_utc(self) -> datetime:
        return _instant(self.end, self.zone)

    def __str__(self) -> str:
        return f"{self.period}..{self.day.day:02d}" if self.end != self.period.end \
            else str(self.period)


def to_date(day: date, grain: Grain, zone: ZoneInfo) -> Period | ToDate:
    """The period of ``grain`` containing ``day``, cut at the end of ``day`` (the whole
    period when ``day`` is its last day).

    >>> z = ZoneInfo("Asia/Shanghai")
    >>> str(to_date(date(2025, 3, 15), "month", z)), str(to_date(date(2025, 3, 31), "month", z))
    ('2025-03..15', '2025-03')
    """
    p = period_of(day, grain, zone)
    return p if p.end == day + timedelta(days=1) else ToDate(p, day)


def period_key(p: Period | ToDate) -> int:
    """A 64-bit number naming ``p``: equal for periods with the same grain and local bounds
    (hence the same name), different otherwise, whatever their grains. Models join and group
    on it instead of the name inside :meth:`siyu.models.sources.Sources.cached` (an integer
    is cheaper to hash than a string).

    >>> z = ZoneInfo("Asia/Shanghai")
    >>> m = parse_period("2025-03", zone=z)
    >>> len({period_key(m), period_key(to_date(date(2025, 3, 15), "month", z)),
    ...      period_key(parse_period("2025-03-01", zone=z))})
    3
    """
    return (p.start.toordinal() << 24) | ((p.end - p.start).days << 3) | GRAINS.index(p.grain)


def with_previous(periods: list[Period]) -> list[Period]:
    """``periods`` and the period before each (P−1), once each, in time order."""
    return sorted({q for p in periods for q in (p, p.previous())},
                  key=lambda q: (q.start, q.end))
