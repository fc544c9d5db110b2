"""One consumer's tier at the end of some months (§5), for the 360° page.

- **Stored**: months whose stored results are fresh (:func:`siyu.results.read.fresh_periods`,
  the rule the dashboard uses) are read from ``metrics_consumer_tiers``, which ``siyu metrics
  compute`` writes with the other month results (a consumer absent from a stored month has
  tier 0).
- **Model**: the other months come from :func:`siyu.models.tiers.tiers` run over the
  consumer's own rows — relationships, orders, shares, reviews of its keys, plus the orders
  placed through its shares and their buyers' OneID keys (everything its tier depends on) —
  read through the consumer index (:class:`~siyu.consumers.index.Finder`). The rows are
  handed to the engine as fixed-name views (``_c360_*``), so the model's compiled SQL is the
  same for every consumer and is compiled once per list of months and metric settings.

Both give the full model's answer (``tests/web/test_consumer_page.py``).
"""

from __future__ import annotations

import threading
from functools import cached_property
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from siyu.consumers.index import Finder
from siyu.models.periods import Period
from siyu.models.sources import Sources

__all__ = ["CONSUMER_TIERS", "consumer_tiers", "stored_tiers", "model_tiers"]

CONSUMER_TIERS = "metrics_consumer_tiers"
_VIEW = "_c360_"
_MODEL_TABLES = ("relationships", "orders", "shares", "reviews")


def consumer_tiers(ws, cid: str, keys: list[str], periods: list[Period],
                   finder: Finder | None = None) -> dict[str, int]:
    """``{period: tier}`` for the periods where the consumer's tier is ≥ 1."""
    got, missing = stored_tiers(ws, cid, periods)
    if missing:
        got.update(model_tiers(ws, cid, keys, missing, finder))
    return got


def stored_tiers(ws, cid: str, periods: list[Period]) -> tuple[dict[str, int], list[Period]]:
    """``({period: tier ≥ 1}, periods not stored or not fresh)`` from ``siyu metrics
    compute``'s month results."""
    con = ws.warehouse.raw
    if not con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?",
                       [CONSUMER_TIERS]).fetchone()[0]:
        return {}, list(periods)
    fresh = _fresh_months(ws)
    stored = [str(p) for p in periods if p.grain == "month" and str(p) in fresh]
    if not stored:
        return {}, list(periods)
    marks = ", ".join("?" for _ in stored)
    rows = con.execute(f"SELECT period, tier FROM {CONSUMER_TIERS} WHERE grain = 'month' "
                       f"AND consumer_id = ? AND period IN ({marks})", [cid, *stored])
    return ({r[0]: int(r[1]) for r in rows.fetchall()},
            [p for p in periods if str(p) not in stored])


_FRESH: dict[tuple, set[str]] = {}


def _fresh_months(ws) -> set[str]:
    """:func:`siyu.results.read.fresh_periods` of the month grain, remembered until the
    operational store shows another import or OneID run, or ``siyu metrics compute`` writes
    its state again. After new data the check itself scans the new rows of every event table
    (about 85 ms at 1 M consumers); pages in between need not repeat it. It rests on what
    the check already assumes: warehouse rows change only through import and OneID runs."""
    from siyu.results.read import fresh_periods

    key = _fresh_key(ws)
    with _LOCK:
        hit = _FRESH.get(key)
    if hit is not None:
        return hit
    got = fresh_periods(ws, "month")
    with _LOCK:
        if len(_FRESH) > 8:
            _FRESH.clear()
        _FRESH[key] = got
    return got


def _fresh_key(ws) -> tuple:
    from sqlalchemy import case, func, select

    from siyu.ops.tables import identity_runs, import_runs
    from siyu.results.state import STATE, fingerprint

    con = ws.warehouse.raw
    state = None
    if con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?",
                   [STATE]).fetchone()[0]:
        state = con.execute(f"SELECT fingerprint, load_watermark, identity_run, computed_at "
                            f"FROM {STATE} WHERE grain = 'month'").fetchone()
    done = func.sum(case((import_runs.c.status == "done", 1), else_=0))
    with ws.ops.engine.connect() as c:
        imports = tuple(c.execute(select(
            func.count(), func.max(import_runs.c.load_id), done,
            func.max(import_runs.c.finished_at))).one())
        runs = tuple(c.execute(select(
            func.count(), func.max(identity_runs.c.started_at),
            func.max(identity_runs.c.finished_at))).one())
    return (str(ws.home), fingerprint(ws.settings), state, imports, runs)


def model_tiers(ws, cid: str, keys: list[str], periods: list[Period],
                finder: Finder | None = None) -> dict[str, int]:
    """The tier model over the consumer's own rows (see the module's docstring)."""
    finder = finder or Finder(ws)
    con = ws.warehouse.raw
    data = _consumer_rows(finder, keys)
    try:
        for name, t in data.items():
            con.register(_VIEW + name, t)
        sql, memtables = _compiled(ws, periods)
        for op in memtables:  # the model's own small tables (the periods)
            con.register(op.name, op.data.to_pyarrow(op.schema))
        rows = con.execute(sql).fetchall()
    finally:
        for name in data:
            con.unregister(_VIEW + name)
    return {r[0]: int(r[2]) for r in rows if r[1] == cid}


def _consumer_rows(finder: Finder, keys: list[str]) -> dict[str, pa.Table]:
    """What the consumer's tier depends on, table by table, plus ``identity``."""
    out = {t: finder.arrow("SELECT * FROM {src}", t, keys) for t in _MODEL_TABLES}
    share_ids = sorted({s for s in out["shares"].column("share_id").to_pylist() if s})
    if share_ids:  # orders by others through the consumer's shares
        ref = finder.arrow("SELECT * FROM {src}", "orders", share_ids, key="share_id")
        ref = ref.filter(pc.invert(pc.is_in(ref.column("consumer_key"),
                                            value_set=pa.array(keys, pa.string()))))
        out["orders"] = pa.concat_tables([out["orders"], ref.select(
            out["orders"].column_names)])
    buyers = sorted(set(out["orders"].column("consumer_key").to_pylist()) - set(keys))
    out["identity"] = finder.arrow("SELECT key, consumer_id FROM {src}", "identity_map",
                                   [*keys, *buyers], key="key")
    return out


class _OneConsumer(Sources):
    """:class:`Sources` over the ``_c360_*`` views of one consumer's rows."""

    def table(self, name: str):
        if name not in _MODEL_TABLES:
            raise KeyError(f"the tier model read {name}, not among the consumer's rows")
        return self.con.table(_VIEW + name)

    @cached_property
    def identity(self):
        return self.con.table(_VIEW + "identity")


_COMPILED: dict[tuple, tuple[str, list[Any]]] = {}
_LOCK = threading.Lock()


def _compiled(ws, periods: list[Period]) -> tuple[str, list[Any]]:
    """The tier model's SQL over the ``_c360_*`` views for ``periods`` under the current
    metric settings, and the in-memory tables it names; compiled once per key (the views'
    columns and types are the same for every consumer)."""
    import ibis.expr.operations as ops

    from siyu.models.tiers import tiers
    from siyu.results.state import fingerprint

    key = (tuple((p.grain, str(p)) for p in periods), fingerprint(ws.settings))
    with _LOCK:
        if key not in _COMPILED:
            backend = ws.warehouse.ibis
            expr = tiers(_OneConsumer(backend, ws.settings), periods)
            expr = expr.select("period", "consumer_id", "tier")
            _COMPILED[key] = (str(backend.compile(expr)),
                              list(expr.op().find(ops.InMemoryTable)))
            while len(_COMPILED) > 32:
                _COMPILED.pop(next(iter(_COMPILED)))
        return _COMPILED[key]
