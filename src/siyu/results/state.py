"""What the materialised metrics were computed from, and what changed since (the incremental
part of ``siyu metrics compute``).

``metrics_state`` holds one row per grain: a fingerprint of the settings and code the results
depend on, the newest import run (``_load_id``) stored in the warehouse at that time, and the
latest OneID run. A later compute looks at what arrived after that:

- rows of event tables imported since: the earliest of their event times (``order_items``:
  the payment time of their orders);
- consumer keys that a later OneID run (re)assigned: the earliest event of any of them (a
  merge or split changes nothing before its keys' first event);
- new versions of ``stores``, ``guides`` or ``touchpoints`` (no event time): everything.

Every period that ends after that instant is recomputed, and so is every period never stored
(see :func:`dirty_since`). Settings or code of another fingerprint: everything.

This module speaks SQL to the engine directly: it is bookkeeping over the warehouse's own
columns, not a model.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from siyu.schema import TABLES
from siyu.warehouse import scalar

__all__ = ["METRIC_SETTINGS", "STATE", "State", "EVERYTHING", "fingerprint", "read_state", "write_state",
           "load_watermark", "dirty_since", "data_range"]

STATE = "metrics_state"
SCHEMA_VERSION = 2
"""Bumped when a result table's columns or meaning change: stored results are recomputed."""

EVERYTHING = datetime.min.replace(tzinfo=UTC)
"""The instant returned when every period is affected."""

_STATE_DDL = f"""CREATE TABLE IF NOT EXISTS {STATE} (
    grain VARCHAR PRIMARY KEY,
    fingerprint VARCHAR NOT NULL,    -- settings + code the results depend on
    load_watermark VARCHAR,          -- newest _load_id in the warehouse when computed
    identity_run VARCHAR,            -- latest done OneID run when computed
    computed_at TIMESTAMPTZ NOT NULL
)"""

# the settings the metric models read (tests/results/test_state_settings.py checks that every
# setting read under siyu/models and siyu/results is listed); other settings (journeys,
# channels, paths, resources…) never make stored results stale
METRIC_SETTINGS = frozenset({
    "timezone", "propagation_window_days", "propagation_reviews",
    "propagation_review_min_rating", "clv_window_days", "clv_basis", "rfm_lookback_days",
    "rfm_new_days", "rfm_loyal_min_score", "rfm_warning_max_r", "rfm_warning_min_fm",
    "rfm_potential_min_r", "churn_no_engaged_days", "churn_unread_hours", "churn_no_view_days",
    "retention_days", "group_capacity",
})
_NO_EVENT_TIME = ("stores", "guides", "touchpoints")
_IGNORED = ("consumers", "identity_links")  # read by no metric; OneID's effect is in the map


@dataclass(frozen=True)
class State:
    grain: str
    fingerprint: str
    load_watermark: str | None
    identity_run: str | None
    computed_at: datetime


def fingerprint(settings) -> str:
    """A hash of the settings that decide metric values, the result tables' schema version
    and siyu's version."""
    from siyu import __version__

    values = {k: v for k, v in settings.model_dump(mode="json").items() if k in METRIC_SETTINGS}
    blob = json.dumps([SCHEMA_VERSION, __version__, values], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def read_state(con, grain: str) -> State | None:
    con.execute(_STATE_DDL)
    rows = con.execute(f"SELECT grain, fingerprint, load_watermark, identity_run, computed_at "
                       f"FROM {STATE} WHERE grain = ?", [grain]).fetchall()
    return State(*rows[0]) if rows else None


def write_state(con, state: State) -> None:
    con.execute(_STATE_DDL)
    con.execute(f"INSERT OR REPLACE INTO {STATE} VALUES (?, ?, ?, ?, ?)",
                [state.grain, state.fingerprint, state.load_watermark, state.identity_run,
                 state.computed_at])


def load_watermark(con) -> str | None:
    """The newest import run whose rows are in the warehouse (load ids sort by time)."""
    parts = " UNION ALL ".join(f'SELECT max(_load_id) AS m FROM "{t}"' for t in TABLES)
    return scalar(con, f"SELECT max(m) FROM ({parts})")


def _event_tables():
    return [t for t in TABLES.values()
            if t.kind == "event" and t.time_column and t.name not in _IGNORED]


def _min_new_event(con, watermark: str | None) -> datetime | None:
    """The earliest event time among rows imported after ``watermark``."""
    if watermark is None:
        return EVERYTHING
    for name in _NO_EVENT_TIME:
        if scalar(con, f'SELECT count(*) FROM "{name}" WHERE _load_id > ?', [watermark]):
            return EVERYTHING
    parts = [f'SELECT min("{t.time_column}") AS m FROM "{t.name}" WHERE _load_id > $w'
             for t in _event_tables()]
    parts.append("SELECT min(o.paid_at) AS m FROM order_items i JOIN orders o "
                 "USING (order_id) WHERE i._load_id > $w")
    return scalar(con, f"SELECT min(m) FROM ({' UNION ALL '.join(parts)})", {"w": watermark})


def _min_reassigned_event(con, runs: list[str]) -> datetime | None:
    """The earliest event of any consumer key that one of ``runs`` (re)assigned."""
    if not runs:
        return None
    con.execute("CREATE OR REPLACE TEMP TABLE _metrics_moved AS SELECT key FROM identity_map "
                "WHERE list_contains($runs, run_id)", {"runs": runs})
    parts = []
    for t in _event_tables():
        for k in t.key_columns:
            parts.append(f'SELECT min(e."{t.time_column}") AS m FROM "{t.name}" e '
                         f'SEMI JOIN _metrics_moved k ON e."{k}" = k.key')
    try:
        return scalar(con, f"SELECT min(m) FROM ({' UNION ALL '.join(parts)})")
    finally:
        con.execute("DROP TABLE IF EXISTS _metrics_moved")


def identity_runs_after(ops, run_id: str | None) -> list[str] | None:
    """Done OneID runs that started after ``run_id`` (all of them when it is None); None
    when ``run_id`` is unknown to the operational store (then nothing can be assumed)."""
    from sqlalchemy import select

    from siyu.ops import identity_runs

    with ops.engine.connect() as conn:
        rows = conn.execute(select(identity_runs.c.run_id, identity_runs.c.started_at)
                            .where(identity_runs.c.status == "done")
                            .order_by(identity_runs.c.started_at)).all()
    ids = [r.run_id for r in rows]
    if run_id is None:
        return ids
    if run_id not in ids:
        return None
    return ids[ids.index(run_id) + 1:]


def dirty_since(con, ops, state: State) -> datetime | None:
    """The earliest instant whose data changed since ``state`` was written (None: nothing;
    :data:`EVERYTHING`: all of it)."""
    found = [_min_new_event(con, state.load_watermark)]
    runs = identity_runs_after(ops, state.identity_run)
    if runs is None:
        return EVERYTHING
    found.append(_min_reassigned_event(con, runs))
    found = [t for t in found if t is not None]
    return min(found) if found else None


def data_range(con) -> tuple[datetime, datetime] | None:
    """The first and last event time of relationships, paid orders and interactions."""
    parts = [f'SELECT min("{c}") AS a, max("{c}") AS b FROM "{t}"' for t, c in
             (("relationships", "occurred_at"), ("orders", "paid_at"),
              ("interactions", "occurred_at"))]
    rows = con.execute(f"SELECT min(a), max(b) FROM ({' UNION ALL '.join(parts)})").fetchall()
    a, b = rows[0]
    return None if a is None else (a, b)
