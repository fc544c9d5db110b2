"""Driving the engine: ``siyu run --until`` (a simulated clock advanced tick by tick) and
``siyu worker`` (the real clock). After each engine pass the channel dispatcher drains the
outbox (``siyu.channels.dispatcher.drain``); before each pass the guide assignment snapshot is
refreshed when an import or OneID run finished since (``siyu.activation.assignment``)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from siyu.activation.clock import now_utc, set_sim_now, sim_now
from siyu.activation.engine import Env, run_pass
from siyu.errors import UsageError, WorkspaceBusy
from siyu.i18n import tr

__all__ = ["run_until", "worker", "drain"]

log = logging.getLogger("siyu.activation")


def drain(ws, now: datetime | None):
    """Hand due outbox rows to the channels (:func:`siyu.channels.dispatcher.drain`)."""
    from siyu.channels.dispatcher import drain as _drain

    return _drain(ws, now=now)


MAX_DRAINS_PER_TICK = 200
"""A simulated tick drains at most this many distinct due instants; later ones go at its end."""


def _due_instants(ws, until: datetime) -> list[datetime]:
    """The distinct times (to the minute) at which outbox rows fall due up to ``until``, in
    order: the simulated dispatcher delivers each at its due time, as a running one would,
    rather than all at the end of the tick (which could fall inside quiet hours)."""
    from sqlalchemy import select

    from siyu.ops.tables import outbox

    q = (select(outbox.c.next_attempt_at).distinct()
         .where(outbox.c.status.in_(("pending", "failed")), outbox.c.next_attempt_at <= until)
         .order_by(outbox.c.next_attempt_at))
    with ws.ops.engine.connect() as c:
        due = [t if t.tzinfo else t.replace(tzinfo=UTC) for (t,) in c.execute(q)]
    minutes = sorted({t.replace(second=0, microsecond=0) + timedelta(minutes=1)
                      if t.second or t.microsecond else t for t in due})
    return [t for t in minutes if t < until][:MAX_DRAINS_PER_TICK]


def _assignments(ws, at: datetime | None, env: Env) -> None:
    """Bring the guide assignment snapshot up to date after imports or OneID runs, so tasks
    that journeys create go to the guide holding the relationship."""
    from siyu.activation.assignment import refresh_if_stale
    from siyu.models.sources import Sources

    # returns at once before OneID ever ran or when nothing changed, without opening the
    # warehouse; a due refresh reads the pass's warehouse (read-only: never the write lock
    # a second worker or an import would then wait for)
    refresh_if_stale(ws, at, lambda: Sources(env.ibis(), ws.settings))


def _local(at: datetime, ws) -> str:
    """An instant as brand-local text for messages (``2025-03-01 00:00 Asia/Shanghai``)."""
    zone = ws.settings.zone
    return f"{at.astimezone(zone):%Y-%m-%d %H:%M} {zone.key}"


def run_until(ws, until: datetime, *, start: datetime | None = None,
              tick: timedelta = timedelta(days=1), deliver: bool = True,
              worker_id: str | None = None,
              progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Advance the simulated clock from where it stands (or ``start``) to ``until``, one
    engine pass (and outbox drain) per ``tick``; the clock is saved after every pass, so an
    interrupted run resumes where it stopped. ``progress(done, total)`` is called after each
    tick."""
    with ws.ops.engine.begin() as conn:
        at = sim_now(conn)
        if start is not None:
            at = start
            set_sim_now(conn, at)
    if at is None:
        raise UsageError(tr("模拟时钟尚未设定：第一次请用 --from 指定开始时间",
                            "the simulated clock is not set yet: give --from the first time"))
    if until < at:
        raise UsageError(tr("--until {u} 早于模拟时钟当前时间 {a}",
                            "--until {u} is before the simulated clock ({a})",
                            u=_local(until, ws), a=_local(at, ws)))
    totals = {"entered": 0, "advanced": 0, "passes": 0, "delivered": 0}
    ticks = max(1, -(-(until - at) // tick))
    env = Env(ws, worker_id)
    try:
        while True:
            nxt = min(at + tick, until) if at < until else until
            _assignments(ws, at, env)
            # the simulated worker runs through the tick: only what fell due before its start
            # (a paused journey, a clock moved on) can be late
            got = run_pass(ws, now=nxt, start=at, env=env, current=at)
            for k in ("entered", "advanced"):
                totals[k] += got[k]
            totals["passes"] += 1
            if deliver:
                for t in [*_due_instants(ws, nxt), nxt]:
                    d = drain(ws, t)
                    totals["delivered"] += int(getattr(d, "sent", 0) or 0)
            with ws.ops.engine.begin() as conn:
                set_sim_now(conn, nxt)
            if progress:
                progress(totals["passes"], ticks)
            at = nxt
            if at >= until:
                break
    finally:
        env.close()
    totals["clock"] = at.isoformat()
    return totals


def worker(ws, *, once: bool = False, worker_id: str | None = None,
           stop: Callable[[], bool] | None = None,
           clock: Callable[[], datetime] | None = None) -> dict[str, Any]:
    """Run engine passes on the real clock until stopped (``once``: a single pass).
    ``clock`` replaces the real clock (tests: a worker that was down until a given instant);
    each pass's instant is also its present for lateness (``journey_late_limit``)."""
    totals = {"entered": 0, "advanced": 0, "passes": 0}
    while True:
        env = Env(ws, worker_id)
        env.lookback = True
        t = clock() if clock is not None else now_utc()
        try:
            _assignments(ws, None, env)
            got = run_pass(ws, now=t, env=env, current=t)
        except WorkspaceBusy as e:  # an import holds the warehouse: try again shortly
            log.warning("engine pass skipped: %s", e)
            got = {"entered": 0, "advanced": 0}
        finally:
            env.close()  # the warehouse is not held between passes
        totals["entered"] += got["entered"]
        totals["advanced"] += got["advanced"]
        totals["passes"] += 1
        drain(ws, None if clock is None else t)
        log.info("engine pass: %s", got)
        if once or (stop is not None and stop()):
            return totals
        if not got["advanced"]:
            time.sleep(ws.settings.worker_interval_seconds)
