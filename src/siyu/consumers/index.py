"""The consumer lookup index (消费者索引): one consumer's rows without scanning whole tables.

Every per-consumer query of the 360° view filters a table by ``consumer_key`` (or
``identity_map`` by ``key`` / ``consumer_id``); without an index each one reads the whole
column — 8 M interactions at a 1 M-consumer brand. ``siyu consumer index`` keeps, for each
table of :data:`INDEXED`, a copy of the columns the view shows, sorted by ``hash(key)``: the
engine's per-row-group min/max of that hash then skips every row group but the one or two
holding the wanted keys. Nothing is built at import or OneID time (they stay as fast as
before); the index is rebuilt by the command, and is exact in between:

- **event and dimension tables** hold the rows whose ``_load_id`` was at most the build's
  watermark. Rows imported since (the importer only appends) are read from the table itself
  (``_load_id > watermark``, only for tables the operational store shows an import run for;
  copied once per import into a temporary table, so pages between two imports do not scan
  again), so a lookup sees every row. A table whose row count no longer matches (rows
  deleted, or written outside the importer) is not used until the next build: it is scanned
  instead.
- **identity_map** is used only while the latest OneID run is the one it was built after and
  the map has the same number of rows; otherwise lookups go through
  :mod:`siyu.identity.lookup` as before.
- ``hash`` is the engine's; an index table built by another DuckDB version, or holding
  other columns than this version of siyu reads, is not used.

The index holds copies of personal data (keys, the ``consumers`` attributes): erasing a
consumer must drop or rebuild it (:func:`drop_index`).

This module speaks SQL to DuckDB directly: it is storage bookkeeping, like
:mod:`siyu.results.state`, not a model.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from siyu.identity.runs import last_run_id

__all__ = ["Indexed", "INDEXED", "STATE", "IndexReport", "build_index", "drop_index",
           "index_status", "register", "Finder"]

STATE = "consumer_index_state"

_STATE_DDL = f"""CREATE TABLE IF NOT EXISTS {STATE} (
    name VARCHAR PRIMARY KEY,        -- the index table
    source VARCHAR NOT NULL,         -- the table it copies
    rows BIGINT NOT NULL,            -- rows of the source when built
    load_watermark VARCHAR,          -- newest _load_id in the warehouse when built
    identity_run VARCHAR,            -- latest done OneID run when built
    engine VARCHAR NOT NULL,         -- DuckDB version (hash() is the engine's) / definition
    built_at TIMESTAMPTZ NOT NULL
)"""


@dataclass(frozen=True)
class Indexed:
    """One index table: ``columns`` of ``source`` sorted by ``hash(key)``."""

    source: str
    key: str
    columns: tuple[str, ...]
    suffix: str = ""
    where: str | None = None
    """rows of the source left out of the index (their ``key`` never matches a lookup)"""

    @property
    def name(self) -> str:
        return f"consumer_index_{self.source}{self.suffix}"

    @property
    def definition(self) -> str:
        """The engine version and a digest of what the table holds: an index table built by
        another engine or under another definition is not used."""
        import hashlib

        import duckdb

        blob = repr((self.key, self.columns, self.where)).encode()
        return f"{duckdb.__version__}/{hashlib.sha256(blob).hexdigest()[:12]}"

    @property
    def loaded(self) -> bool:
        """Rows arrive through the importer (``_load_id``); identity_map through OneID."""
        return self.source != "identity_map"


INDEXED: dict[str, Indexed] = {}
"""Every index table by name: the registry the build and the reads share."""


def register(ix: Indexed) -> Indexed:
    """Add an index table (built ones are registered the same way)."""
    INDEXED[ix.name] = ix
    return ix


_ORDER_COLUMNS = ("consumer_key", "status", "amount", "paid_at", "order_id", "share_id",
                  "gross_profit")

for _ix in (
    Indexed("identity_map", "key", ("key", "consumer_id")),
    Indexed("identity_map", "consumer_id", ("consumer_id", "key", "key_type", "first_seen"),
            suffix="_by_id"),
    Indexed("consumers", "consumer_key", ("consumer_key", "name", "gender", "birthday", "city",
                                          "province", "registered_at", "attrs", "_load_id",
                                          "_line")),
    Indexed("relationships", "consumer_key", ("consumer_key", "field", "field_ref", "action",
                                              "occurred_at", "source", "event_id")),
    Indexed("orders", "consumer_key", _ORDER_COLUMNS),
    # the orders that came through a share (the sharer's propagations, §5)
    Indexed("orders", "share_id", _ORDER_COLUMNS, suffix="_by_share",
            where="share_id IS NOT NULL"),
    Indexed("interactions", "consumer_key", ("consumer_key", "type", "occurred_at")),
    Indexed("shares", "consumer_key", ("consumer_key", "occurred_at", "share_id")),
    Indexed("reviews", "consumer_key", ("consumer_key", "occurred_at", "review_id", "rating")),
    Indexed("consents", "consumer_key", ("consumer_key", "purpose", "channel", "granted",
                                         "occurred_at", "source")),
):
    register(_ix)


def _by_source(source: str, key: str) -> Indexed:
    for ix in INDEXED.values():
        if ix.source == source and ix.key == key:
            return ix
    raise KeyError((source, key))


def _tables(con) -> set[str]:
    return {r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'").fetchall()}


@dataclass
class IndexReport:
    """What :func:`build_index` did; :meth:`as_json` is the ``--json`` contract."""

    tables: dict[str, int] = field(default_factory=dict)
    """rows per index table"""
    load_watermark: str | None = None
    identity_run: str | None = None
    seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {"tables": self.tables, "rows": sum(self.tables.values()),
                "load_watermark": self.load_watermark, "identity_run": self.identity_run,
                "seconds": round(self.seconds, 3)}


def build_index(ws, progress: Callable[[int, int], None] | None = None) -> IndexReport:
    """(Re)build every index table of :data:`INDEXED` in one transaction."""
    from siyu.results.state import load_watermark

    t0 = time.perf_counter()
    con = ws.warehouse.raw
    have = _tables(con)
    todo = [ix for ix in INDEXED.values() if ix.source in have]
    report = IndexReport(load_watermark=load_watermark(con),
                         identity_run=last_run_id(ws.ops))
    now = datetime.now(UTC)
    con.execute(_STATE_DDL)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"DELETE FROM {STATE}")
        for i, ix in enumerate(todo):
            cols = ", ".join(f'"{c}"' for c in ix.columns)
            where = f" WHERE {ix.where}" if ix.where else ""
            con.execute(f'CREATE OR REPLACE TABLE "{ix.name}" AS SELECT hash("{ix.key}") AS h, '
                        f'{cols} FROM "{ix.source}"{where} ORDER BY h')
            rows = con.execute(f'SELECT count(*) FROM "{ix.source}"').fetchone()[0]
            con.execute(f"INSERT INTO {STATE} VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [ix.name, ix.source, rows, report.load_watermark,
                         report.identity_run, ix.definition, now])
            report.tables[ix.name] = int(con.execute(
                f'SELECT count(*) FROM "{ix.name}"').fetchone()[0])
            if progress:
                progress(i + 1, len(todo))
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    report.seconds = time.perf_counter() - t0
    return report


def drop_index(ws) -> list[str]:
    """Drop every index table (after erasing personal data, or to stop using it)."""
    con = ws.warehouse.raw
    have = _tables(con)
    gone = [ix.name for ix in INDEXED.values() if ix.name in have]
    for name in gone:
        con.execute(f'DROP TABLE "{name}"')
    if STATE in have:
        con.execute(f"DROP TABLE {STATE}")
    return gone


@dataclass(frozen=True)
class _Usable:
    """How to read one index table now: with ``live``, the rows imported since the build
    are in that temporary table (None: there are none)."""

    ix: Indexed
    live: str | None


_LIVE: dict[tuple, int] = {}
"""(connection, source, watermark, import runs) → rows imported since the build, copied into
the connection's temporary table ``_c360_new_<source>``; reused until the next import."""
_LIVE_LOCK = threading.Lock()


class Finder:
    """One consumer page's reads: the rows of a table for a list of keys, from the index
    where it is usable (plus the rows imported since) and from the table itself otherwise.
    Validity is checked once per table per finder."""

    def __init__(self, ws):
        self.ws = ws
        self.con = ws.warehouse.raw
        self._state: dict[str, tuple] | None = None
        self._usable: dict[str, _Usable | None] = {}
        self._imported: set[str] | None = None
        self._imports: tuple | None = None

    # -- validity ------------------------------------------------------------------------
    def _states(self) -> dict[str, tuple]:
        if self._state is None:
            self._state = {}
            if STATE in _tables(self.con):
                for r in self.con.execute(
                        f"SELECT name, rows, load_watermark, identity_run, engine "
                        f"FROM {STATE}").fetchall():
                    self._state[r[0]] = r[1:]
        return self._state

    def _imported_since(self, watermark: str | None) -> set[str]:
        """Tables with an import run after ``watermark`` (the operational store's record)."""
        if self._imported is None:
            from sqlalchemy import select

            from siyu.ops.tables import import_runs

            q = select(import_runs.c.table_name).distinct()
            if watermark is not None:
                q = q.where(import_runs.c.load_id > watermark)
            with self.ws.ops.engine.connect() as c:
                self._imported = {r[0] for r in c.execute(q).all()}
        return self._imported

    def _imports_key(self) -> tuple:
        """A summary of the import runs that changes whenever one starts or ends."""
        if self._imports is None:
            from sqlalchemy import case, func, select

            from siyu.ops.tables import import_runs as r

            q = select(func.count(), func.max(r.c.load_id),
                       func.sum(case((r.c.status == "done", 1), else_=0)),
                       func.max(r.c.finished_at))
            with self.ws.ops.engine.connect() as c:
                self._imports = tuple(c.execute(q).one())
        return self._imports

    def _live(self, source: str, watermark: str) -> tuple[str, int]:
        """The rows of ``source`` imported after ``watermark``, in a temporary table (one
        scan of the table's ``_load_id`` per import, not per page), and how many."""
        name = f"_c360_new_{source}"
        key = (id(self.con), str(self.ws.home), source, watermark, self._imports_key())
        with _LIVE_LOCK:
            n = _LIVE.get(key)
        if n is not None and self.con.execute(
                "SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = ?",
                [name]).fetchone()[0]:
            return name, n
        self.con.execute(f'CREATE OR REPLACE TEMP TABLE "{name}" AS SELECT * FROM "{source}" '
                         "WHERE _load_id > ?", [watermark])
        n = int(self.con.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0])
        with _LIVE_LOCK:
            for k in [k for k in _LIVE if k[:3] == key[:3]]:
                del _LIVE[k]
            _LIVE[key] = n
        return name, n

    def usable(self, ix: Indexed) -> _Usable | None:
        if ix.name in self._usable:
            return self._usable[ix.name]
        got = self._check(ix)
        self._usable[ix.name] = got
        return got

    def _check(self, ix: Indexed) -> _Usable | None:
        st = self._states().get(ix.name)
        if st is None:
            return None
        rows, watermark, identity_run, engine = st
        if engine != ix.definition:
            return None
        count = self.con.execute(f'SELECT count(*) FROM "{ix.source}"').fetchone()[0]
        if not ix.loaded:
            ok = identity_run == last_run_id(self.ws.ops) and count == rows
            return _Usable(ix, None) if ok else None
        if ix.source not in self._imported_since(watermark):
            return _Usable(ix, None) if count == rows else None
        if watermark is None:
            return None
        live, new = self._live(ix.source, watermark)
        if count - new != rows:
            return None
        return _Usable(ix, live if new else None)

    # -- reads ---------------------------------------------------------------------------
    def source(self, table: str, values: Sequence[str], *, key: str = "consumer_key",
               columns: Sequence[str] | None = None) -> tuple[str, list]:
        """A SQL subquery over the rows of ``table`` whose ``key`` is one of ``values``
        (columns: the index's, or ``columns``), and its parameters."""
        ix = _by_source(table, key)
        cols = ", ".join(f'"{c}"' for c in (columns or ix.columns))
        vals = list(dict.fromkeys(values))  # a key twice would read its rows twice
        marks = ", ".join("?" for _ in vals) or "NULL"
        use = self.usable(ix)
        if use is None:
            return (f'SELECT {cols} FROM "{table}" WHERE "{key}" IN ({marks})', vals)
        if not vals:
            return (f'SELECT {cols} FROM "{ix.name}" WHERE false', [])
        # one equality per key: the engine then reads about one row group per key (an IN
        # list over several hashes was measured 4-10x slower at 1 M consumers)
        sql = " UNION ALL ".join(f'SELECT {cols} FROM "{ix.name}" WHERE h = hash(?) '
                                 f'AND "{key}" = ?' for _ in vals)
        params = [x for v in vals for x in (v, v)]
        if use.live is not None:
            sql += f' UNION ALL SELECT {cols} FROM "{use.live}" WHERE "{key}" IN ({marks})'
            params += vals
        return sql, params

    def _run(self, sql: str, table: str, values: Sequence[str], key: str,
             params: Sequence[Any]):
        sub, p = self.source(table, values, key=key)
        return self.con.execute(sql.format(src=f"({sub})"), [*p, *params])

    def rows(self, sql: str, table: str, values: Sequence[str], *,
             key: str = "consumer_key", params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Run ``sql`` whose ``{src}`` stands for :meth:`source`'s subquery (its parameters
        first, then ``params``); rows as dicts."""
        cur = self._run(sql, table, values, key, params)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def arrow(self, sql: str, table: str, values: Sequence[str], *,
              key: str = "consumer_key", params: Sequence[Any] = ()):
        """As :meth:`rows`, as an Arrow table (the same column types whichever way it was
        read)."""
        return self._run(sql, table, values, key, params).to_arrow_table()


def index_status(ws) -> list[dict[str, Any]]:
    """Per index table: rows when built, when, and whether a lookup uses it now."""
    f = Finder(ws)
    out = []
    for name, state in sorted(f._states().items()):
        rows = state[0]
        ix = INDEXED.get(name)
        use = f.usable(ix) if ix else None
        out.append({"table": name, "rows": int(rows), "usable": use is not None,
                    "reads_new_rows": bool(use and use.live)})
    return out
