"""``siyu metrics compute``: the metric families of :data:`~siyu.results.families.RESULTS`
written into warehouse tables ``metrics_<name>`` keyed by ``(grain, period)``, so the console,
the API and reports read them without recomputing.

A run computes the periods that need it (:mod:`siyu.results.state`): periods never stored,
and stored periods that end after the earliest change since the last run. Periods are
computed in batches of ``metrics_batch_periods`` (0: sized by :func:`auto_batch_periods`);
each batch replaces its periods' rows in one transaction, so an interrupted run leaves whole
periods and the next run finishes the work.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import ibis
import pyarrow as pa

from siyu.errors import UsageError
from siyu.i18n import tr
from siyu.identity.runs import last_run_id
from siyu.models.periods import Grain, Period, parse_period, period_of, periods_between
from siyu.models.sources import Sources
from siyu.results.families import RESULTS, Batch, Result
from siyu.results.state import (
    EVERYTHING,
    State,
    data_range,
    dirty_since,
    fingerprint,
    load_watermark,
    read_state,
    write_state,
)

__all__ = ["compute_metrics", "ComputeReport", "COMPUTE_GRAINS", "stored_periods",
           "auto_batch_periods"]

COMPUTE_GRAINS: tuple[Grain, ...] = ("day", "week", "month", "quarter")

Progress = Callable[[int, int], None]
Frame = pa.Table | ibis.Table
"""A family's rows: an Arrow table, or an expression computed in the engine at storing."""


@dataclass
class ComputeReport:
    """What a run did; :meth:`as_json` is the ``--json`` contract."""

    grain: str
    requested: list[str]
    computed: list[str] = field(default_factory=list)
    skipped: int = 0
    reason: str = ""
    """full | first_run | definitions_changed (settings or siyu version) | new_data | new_periods
    | up_to_date"""
    tables: list[str] = field(default_factory=list)
    seconds: float = 0.0
    batch_periods: int | None = None
    """Periods computed together (None: nothing computed)."""

    def as_json(self) -> dict:
        return {"grain": self.grain,
                "from": self.requested[0] if self.requested else None,
                "to": self.requested[-1] if self.requested else None,
                "computed": self.computed, "up_to_date": self.skipped,
                "reason": self.reason, "tables": self.tables,
                "batch_periods": self.batch_periods, "seconds": round(self.seconds, 3)}


def stored_periods(con, grain: str) -> set[str]:
    """Periods of ``grain`` present in the materialised results."""
    if not _exists(con, RESULTS[0].table):
        return set()
    rows = con.execute(f"SELECT DISTINCT period FROM {RESULTS[0].table} WHERE grain = ?",
                       [grain]).fetchall()
    return {r[0] for r in rows}


def _exists(con, table: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?",
                            [table]).fetchall()[0][0])


def requested_periods(ws, grain: Grain, first: str | None, last: str | None) -> list[Period]:
    """``first``…``last`` in ``grain`` (defaults: the periods of the first and last event)."""
    if grain not in COMPUTE_GRAINS:
        raise UsageError(tr("未知粒度 {g}（可用：{ok}）", "unknown grain {g} (one of {ok})",
                            g=grain, ok=", ".join(COMPUTE_GRAINS)))
    zone = ws.settings.zone
    bounds = data_range(ws.warehouse.raw)
    if (first is None or last is None) and bounds is None:
        return []

    def edge(text: str | None, at: datetime) -> Period:
        if text is not None:
            return parse_period(text, grain, zone=zone)
        return period_of(at.astimezone(zone).date(), grain, zone)

    a = edge(first, bounds[0] if bounds else None)
    b = edge(last, bounds[1] if bounds else None)
    if b < a:
        raise UsageError(tr("--to 早于 --from", "--to is before --from"))
    return periods_between(a, b, zone=zone)


def compute_metrics(ws, grain: Grain = "month", first: str | None = None,
                    last: str | None = None, *, full: bool = False,
                    progress: Progress | None = None) -> ComputeReport:
    """Compute and store the metrics of ``grain`` from ``first`` to ``last`` (period names in
    the grain's notation), plus stored periods that changed; ``full`` recomputes all."""
    import time

    t0 = time.perf_counter()
    con = ws.warehouse.raw
    periods = requested_periods(ws, grain, first, last)
    report = ComputeReport(grain, [str(p) for p in periods],
                           tables=[r.table for r in RESULTS])
    fp = fingerprint(ws.settings)
    state = read_state(con, grain)
    watermark = load_watermark(con)
    identity_run = last_run_id(ws.ops)
    stored = stored_periods(con, grain)

    if full or state is None or state.fingerprint != fp:
        report.reason = ("full" if full else "first_run" if state is None
                         else "definitions_changed")
        _clear_grain(con, grain)
        todo = list(periods)
    else:
        since = dirty_since(con, ws.ops, state)
        changed = [] if since is None else [
            parse_period(s, grain, zone=ws.settings.zone) for s in stored]
        changed = [p for p in changed if since is not None and
                   (since == EVERYTHING or p.end_utc > since)]
        todo = sorted({*changed, *(p for p in periods if str(p) not in stored)})
        report.reason = ("new_data" if changed else "new_periods" if todo else "up_to_date")
    report.skipped = len([p for p in periods if p not in set(todo)])

    done = 0
    if todo:
        with Sources.of(ws).cached() as src:
            size = ws.settings.metrics_batch_periods or auto_batch_periods(
                src.numbered.count().to_pyarrow().as_py(), ws.warehouse.memory_limit_bytes())
            batches = [todo[i:i + size] for i in range(0, len(todo), size)]
            steps = len(batches) * len([r for r in RESULTS if not r.whole]) + 1
            report.batch_periods = size
            for chunk in batches:
                for _ in _compute_batch(con, src, grain, chunk):
                    done += 1
                    if progress:
                        progress(done, steps)
                report.computed += [str(p) for p in chunk]
            _compute_whole(con, src, grain, todo)
            done += 1
            if progress:
                progress(done, steps)
    write_state(con, State(grain, fp, watermark, identity_run, datetime.now(UTC)))
    report.seconds = time.perf_counter() - t0
    return report


MAX_AUTO_BATCH = 12
"""The most periods an automatic batch holds (a year of months)."""
PERIODS_PER_GIB = 5_600_000
"""Consumer-periods a batch may hold per GiB of the engine's memory limit. Measured on the
generated brand (docs/benchmarks.md): 10.3 M consumers with an 11.2 GiB limit ran batches of
6 months (peak RSS 12.4 GiB) and ran out of memory in the tier ladder with 12."""


def auto_batch_periods(consumers: int, memory_bytes: int) -> int:
    """How many periods to compute together when ``metrics_batch_periods`` is 0: as many as
    :data:`PERIODS_PER_GIB` allows for ``consumers`` (OneID consumers) in ``memory_bytes``,
    between 1 and :data:`MAX_AUTO_BATCH`."""
    fit = PERIODS_PER_GIB * memory_bytes // (2**30 * max(consumers, 1))
    return int(min(MAX_AUTO_BATCH, max(1, fit)))


def _compute_batch(con, src: Sources, grain: str, periods: list[Period]):
    """Compute every per-period family for ``periods`` (yielding after each), then replace
    their rows in one transaction."""
    from siyu.models.fast import tier_pairs

    frames: list[tuple[Result, Frame]] = []
    with tier_pairs(src, periods).cache() as pairs:
        batch = Batch(src, periods, pairs)
        try:
            for r in RESULTS:
                if r.whole:
                    continue
                frames.append((r, r.build(batch)))
                yield r
            # while the batch's engine tables live: a frame may still be an expression
            _replace(con, grain, [str(p) for p in periods], frames)
        finally:
            batch.release()


def _compute_whole(con, src: Sources, grain: str, periods: list[Period]) -> None:
    batch = Batch(src, periods)
    frames = [(r, r.build(batch)) for r in RESULTS if r.whole]
    _replace(con, grain, None, frames)


def _replace(con, grain: str, periods: list[str] | None,
             frames: list[tuple[Result, Frame]]) -> None:
    """In one transaction: delete the rows of ``periods`` (all rows of ``grain`` when None)
    and insert ``frames``. A frame that is an Ibis expression (a family with one row per
    consumer) is inserted by the engine straight from its query, never through Python
    memory."""
    con.execute("BEGIN TRANSACTION")
    try:
        for r, data in frames:
            rows = data.schema().to_pyarrow().empty_table() if isinstance(
                data, ibis.Table) else data
            con.register("_metrics_rows", rows)
            _ensure_table(con, r, "_metrics_rows", rows.column_names)
            if periods is None:
                con.execute(f'DELETE FROM "{r.table}" WHERE grain = ?', [grain])
            else:
                con.execute(f'DELETE FROM "{r.table}" WHERE grain = ? AND '
                            f"list_contains(?, period)", [grain, periods])
            if isinstance(data, ibis.Table):
                data.get_backend().insert(r.table, data.mutate(grain=ibis.literal(grain)))
            else:
                con.execute(f'INSERT INTO "{r.table}" BY NAME SELECT ? AS grain, * '
                            f"FROM _metrics_rows", [grain])
            con.unregister("_metrics_rows")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _clear_grain(con, grain: str) -> None:
    """Forget every stored result of ``grain`` (settings or code changed)."""
    for r in RESULTS:
        if _exists(con, r.table):
            con.execute(f'DELETE FROM "{r.table}" WHERE grain = ?', [grain])


def _columns(con, table: str) -> list[str]:
    return [r[0] for r in con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE table_name = ? "
        "ORDER BY column_index", [table]).fetchall()]


def _ensure_table(con, r: Result, source: str, columns: list[str]) -> None:
    """Create ``r``'s table like ``source`` (whose columns are ``columns``); one with other
    columns (written by another version of siyu) is rebuilt, and every grain's state is
    forgotten so all are recomputed."""
    from siyu.results.state import STATE

    if _exists(con, r.table) and _columns(con, r.table)[1:] != columns:
        con.execute(f'DROP TABLE "{r.table}"')
        con.execute(f"DELETE FROM {STATE}")
    con.execute(f'CREATE TABLE IF NOT EXISTS "{r.table}" AS SELECT '
                f"CAST(NULL AS VARCHAR) AS grain, * FROM {source} LIMIT 0")
