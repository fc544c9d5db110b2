"""Read the materialised metrics back, and only while they are still true.

A stored period is *fresh* when the results of its grain were computed with the current
definitions (:func:`siyu.results.state.fingerprint`) and no row imported or re-assigned since
touches an instant before the period's end (:func:`siyu.results.state.dirty_since`) — the same
rule by which ``siyu metrics compute`` decides what to recompute. Stale or missing periods are
never served: the caller computes them from the models instead.
"""

from __future__ import annotations

from siyu.models.periods import Period, parse_period
from siyu.results.compute import _exists, stored_periods
from siyu.results.state import EVERYTHING, dirty_since, fingerprint, read_state

__all__ = ["fresh_periods", "stored_rows", "whole_rows"]


def fresh_periods(ws, grain: str) -> set[str]:
    """The stored periods of ``grain`` that a re-run of ``siyu metrics compute`` would keep."""
    state = _current_state(ws, grain)
    if state is None:
        return set()
    stored = stored_periods(ws.warehouse.raw, grain)
    since = _changed_since(ws, state)
    if since is None:
        return stored
    if since == EVERYTHING:
        return set()
    zone = ws.settings.zone
    return {p for p in stored if parse_period(p, grain, zone=zone).end_utc <= since}


def _current_state(ws, grain: str):
    """The stored results' state of ``grain`` when they were computed with the current
    definitions, else None."""
    con = ws.warehouse.raw
    if not _exists(con, "metrics_state"):
        return None
    state = read_state(con, grain)
    if state is None or state.fingerprint != fingerprint(ws.settings):
        return None
    return state


def _changed_since(ws, state):
    """The earliest instant whose data changed since ``state`` (None: nothing)."""
    if _nothing_new(ws, state):
        return None
    return dirty_since(ws.warehouse.raw, ws.ops, state)


def _dicts(cur) -> list[dict]:
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def whole_rows(ws, name: str, grain: str) -> list[dict] | None:
    """Every row of ``metrics_<name>`` for ``grain`` — a family computed over all the data
    (cohorts) — or None unless nothing imported or re-assigned since it was computed with the
    current definitions touches any instant (any new row can change it: the data end, a new
    entrant)."""
    con = ws.warehouse.raw
    table = f"metrics_{name}"
    state = _current_state(ws, grain)
    if state is None or not _exists(con, table) or _changed_since(ws, state) is not None:
        return None
    return _dicts(con.execute(f"SELECT * FROM {table} WHERE grain = ?", [grain])) or None


def _nothing_new(ws, state) -> bool:
    """True when the operational store shows no import run after the results' load watermark
    and no OneID run after their identity run: then no warehouse row can have changed, and
    the event tables need not be scanned (rows reach the warehouse only through import runs:
    files, the event API and WeCom callbacks all go through ``siyu.ingest``)."""
    from sqlalchemy import func, select

    from siyu.ops.tables import import_runs
    from siyu.results.state import identity_runs_after

    if identity_runs_after(ws.ops, state.identity_run) != []:
        return False
    q = select(func.count()).select_from(import_runs)
    if state.load_watermark is not None:
        q = q.where(import_runs.c.load_id > state.load_watermark)
    with ws.ops.engine.connect() as c:
        return c.execute(q).scalar() == 0


def stored_rows(ws, name: str, periods: list[Period]) -> list[dict] | None:
    """The rows of ``metrics_<name>`` for ``periods`` (all of one grain), or None when any of
    them is not fresh."""
    if not periods:
        return []
    grain = periods[0].grain
    wanted = [str(p) for p in periods]
    if not set(wanted) <= fresh_periods(ws, grain):
        return None
    con = ws.warehouse.raw
    table = f"metrics_{name}"
    if not _exists(con, table):
        return None
    marks = ", ".join("?" for _ in wanted)
    return _dicts(con.execute(f"SELECT * FROM {table} WHERE grain = ? AND period IN ({marks})",
                              [grain, *wanted]))
