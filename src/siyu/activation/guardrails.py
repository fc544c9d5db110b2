"""Guardrails every journey send passes (DOMAIN §12–§13): quiet hours in the brand zone (the
send waits for the morning), consent at send time (:mod:`.consent`), and frequency caps per
consumer — per channel per brand-local day and over all channels per ISO week — counted in
the ops table ``send_counters`` inside the transaction of the send."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, time
from functools import lru_cache

from sqlalchemy import select

from siyu.activation.clock import next_time_of_day, parse_time_of_day
from siyu.errors import SiyuError
from siyu.ops.tables import send_counters

__all__ = ["quiet_until", "Caps", "day_bucket", "week_bucket"]


@lru_cache(maxsize=64)
def _tod(v: str, name: str) -> time:
    t = parse_time_of_day(v)
    if t is None:
        raise SiyuError(f"setting {name} = {v!r}: expected a time of day HH:MM")
    return t


def quiet_until(at: datetime, settings) -> datetime | None:
    """The end of the quiet hours when ``at`` falls inside them, else None."""
    start = _tod(settings.quiet_hours_start, "quiet_hours_start")
    end = _tod(settings.quiet_hours_end, "quiet_hours_end")
    if start == end:
        return None
    tod = at.astimezone(settings.zone).time()
    inside = (start <= tod or tod < end) if start > end else (start <= tod < end)
    return next_time_of_day(at, end, settings.zone) if inside else None


def day_bucket(at: datetime, channel: str, zone) -> str:
    return f"d:{at.astimezone(zone).date().isoformat()}:{channel}"


def week_bucket(at: datetime, zone) -> str:
    y, w, _ = at.astimezone(zone).isocalendar()
    return f"w:{y}-W{w:02d}"


class Caps:
    """The marketing-send counters of a batch of consumers, read once in the batch's
    transaction, counted in memory, written back by :meth:`flush`."""

    def __init__(self, conn, consumer_ids: list[str], settings):
        self.conn, self.settings, self.zone = conn, settings, settings.zone
        self.counts: dict[tuple[str, str], int] = defaultdict(int)
        self.loaded: set[tuple[str, str]] = set()
        self.dirty: set[tuple[str, str]] = set()
        self._undo: list[tuple[tuple[str, str], bool]] = []
        ids = sorted(set(consumer_ids))
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            for cid, bucket, n in conn.execute(
                    select(send_counters.c.consumer_id, send_counters.c.bucket,
                           send_counters.c.count)
                    .where(send_counters.c.consumer_id.in_(chunk))):
                self.counts[(cid, bucket)] = n
                self.loaded.add((cid, bucket))

    def take(self, consumer_id: str, channel: str, at: datetime) -> str | None:
        """Count one marketing send; the reason it is over a cap instead (nothing counted)."""
        d = (consumer_id, day_bucket(at, channel, self.zone))
        w = (consumer_id, week_bucket(at, self.zone))
        if self.counts[d] >= self.settings.cap_per_channel_day:
            return "cap_channel_day"
        if self.counts[w] >= self.settings.cap_per_week:
            return "cap_week"
        for k in (d, w):
            self._undo.append((k, k in self.dirty))
            self.counts[k] += 1
            self.dirty.add(k)
        return None

    def mark(self) -> int:
        """A point :meth:`undo` can return to (the engine marks before each enrolment)."""
        return len(self._undo)

    def undo(self, mark: int) -> None:
        """Forget every send counted since ``mark`` (the enrolment's step failed)."""
        while len(self._undo) > mark:
            k, was_dirty = self._undo.pop()
            self.counts[k] -= 1
            if not was_dirty:
                self.dirty.discard(k)

    def flush(self) -> None:
        from siyu.activation.bulk import upsert_counts

        upsert_counts(self.conn, send_counters,
                      [{"consumer_id": c, "bucket": b, "count": self.counts[(c, b)]}
                       for c, b in sorted(self.dirty)], ("consumer_id", "bucket"), "count")
        self.loaded |= self.dirty
        self.dirty = set()
        self._undo = []
