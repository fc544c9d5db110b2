"""Time for the engine: UTC instants, durations, brand-local times of day, and the simulated
clock that ``siyu run --until`` advances (kept in the ops table ``engine_clock``)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from siyu.errors import UsageError
from siyu.i18n import tr

__all__ = ["utc", "now_utc", "parse_duration", "parse_time_of_day", "next_time_of_day",
           "local_day", "parse_instant", "sim_now", "set_sim_now"]

_DUR = re.compile(r"^\s*(\d+)\s*([dhm])\s*$")


def utc(dt: datetime | None) -> datetime | None:
    """``dt`` as an aware UTC instant (naive values, as SQLite returns them, are UTC)."""
    if dt is None:
        return None
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def now_utc() -> datetime:
    return datetime.now(UTC)


def parse_duration(text: str) -> timedelta | None:
    """``"7d"``, ``"72h"``, ``"30m"`` → a timedelta; None when not of that form."""
    m = _DUR.match(str(text))
    if not m:
        return None
    n, unit = int(m.group(1)), m.group(2)
    return {"d": timedelta(days=n), "h": timedelta(hours=n), "m": timedelta(minutes=n)}[unit]


def parse_time_of_day(text: str) -> time | None:
    """``"08:30"`` → time(8, 30); None when not ``HH:MM``."""
    m = re.match(r"^(\d{1,2}):(\d{2})$", str(text).strip())
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        return None
    return time(int(m.group(1)), int(m.group(2)))


def next_time_of_day(at: datetime, tod: time, zone: ZoneInfo) -> datetime:
    """The first instant ≥ ``at`` whose brand-local time of day is ``tod``."""
    local = at.astimezone(zone)
    cand = datetime.combine(local.date(), tod, tzinfo=zone)
    if cand < local:
        cand = datetime.combine(local.date() + timedelta(days=1), tod, tzinfo=zone)
    return cand.astimezone(UTC)


def local_day(at: datetime, zone: ZoneInfo) -> date:
    return at.astimezone(zone).date()


def parse_instant(text: str, zone: ZoneInfo, option: str = "--until") -> datetime:
    """``2025-03-01``, ``2025-03-01T10:00`` (brand-local) or with an offset → a UTC instant;
    a date alone means the start of that local day."""
    s = text.strip()
    try:
        if len(s) == 10:
            d = date.fromisoformat(s)
            return datetime.combine(d, time(0), tzinfo=zone).astimezone(UTC)
        dt = datetime.fromisoformat(s.replace(" ", "T"))
    except ValueError:
        raise UsageError(tr("{o} 无法识别的时间 {t}：应写作 2025-03-01 或 2025-03-01T10:00",
                            "{o}: cannot read {t!r}: expected 2025-03-01 or 2025-03-01T10:00",
                            o=option, t=text)) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=zone)
    return dt.astimezone(UTC)


def sim_now(conn) -> datetime | None:
    """Where the simulated clock stands (None before the first ``siyu run``)."""
    from siyu.ops.tables import engine_clock

    v = conn.execute(select(engine_clock.c.now).where(engine_clock.c.name == "sim")).scalar()
    return utc(v)


def set_sim_now(conn, at: datetime) -> None:
    from siyu.ops.tables import engine_clock

    n = conn.execute(engine_clock.update().where(engine_clock.c.name == "sim")
                     .values(now=at)).rowcount
    if not n:
        conn.execute(engine_clock.insert().values(name="sim", now=at))
