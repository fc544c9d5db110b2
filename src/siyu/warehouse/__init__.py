"""The analytical warehouse: canonical tables and every derived table, reached through Ibis.

Model code gets Ibis tables from ``Warehouse.table(name)`` and never sees the engine. Bulk
loading (the importer) and a few maintenance statements use the engine connection directly;
they live here and in ``siyu.ingest``, not in models.

The DuckDB session time zone is the brand's (§1), so calendar functions on the stored
``TIMESTAMPTZ`` instants give brand-local days, weeks and months.
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from siyu.config import Settings
from siyu.errors import WorkspaceBusy
from siyu.schema import SYSTEM_COLUMNS, TABLES, Table

if TYPE_CHECKING:
    import ibis

__all__ = ["Warehouse", "KEY_SEEN_DDL", "create_table_sql", "scalar", "parse_bytes"]


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params=None):
    """The single value of a one-row, one-column query (the result is fully consumed, as
    DuckDB requires before the connection runs anything else)."""
    rows = con.execute(sql, params).fetchall() if params else con.execute(sql).fetchall()
    return rows[0][0] if rows else None

KEY_SEEN_DDL = """
CREATE TABLE IF NOT EXISTS key_seen (
    key VARCHAR NOT NULL,       -- consumer key type:value
    key_type VARCHAR NOT NULL,
    first_seen TIMESTAMPTZ,     -- earliest time the key was observed in the load
    last_seen TIMESTAMPTZ,
    n_rows BIGINT NOT NULL,     -- rows of the load that carry the key
    source_table VARCHAR NOT NULL,
    _load_id VARCHAR NOT NULL
)"""
"""Every consumer key each import run saw, with its first and last time (OneID's node list)."""


def create_table_sql(t: Table) -> str:
    cols = [f'"{c.name}" {c.sql_type}' + (" NOT NULL" if c.required else "") for c in t.columns]
    cols += [f'"{n}" {typ}' for n, typ, _ in SYSTEM_COLUMNS]
    return f'CREATE TABLE IF NOT EXISTS "{t.name}" (\n  ' + ",\n  ".join(cols) + "\n)"


STORAGE_VERSION = "v1.4.0"
"""The storage format of a new warehouse file: the oldest DuckDB the package accepts
(``duckdb>=1.4``). A file keeps the format it was created with. Formats from v1.3 on compress
strings with dictionary + FSST in one pass: at 10 M consumers the import writes its rows about
15 % faster than in the default (v1.0.0) format, and the file is a little smaller
(docs/benchmarks.md)."""


class Warehouse:
    """A connection to the warehouse file with the canonical tables."""

    def __init__(self, path: Path, settings: Settings, tmp_dir: Path | None = None,
                 read_only: bool = False):
        self.path = Path(path)
        self.settings = settings
        try:
            self.raw = duckdb.connect(str(self.path), read_only=read_only,
                                      config={"storage_compatibility_version": STORAGE_VERSION})
            """The DuckDB connection (bulk loading and maintenance only; models use ``ibis``)."""
        except duckdb.IOException as e:  # carries the lock holder
            msg = str(e)
            if "lock" in msg.lower():
                raise WorkspaceBusy(
                    f"the warehouse {self.path} is in use by another process "
                    f"(DuckDB allows one writer; stop `siyu serve` or the other command): "
                    f"{msg.splitlines()[0][:200]}"
                ) from None
            raise
        self._set_session_zone()
        self.raw.execute(f"SET memory_limit = '{settings.engine_memory}'")
        if settings.threads:
            self.raw.execute(f"SET threads = {int(settings.threads)}")
        if tmp_dir is not None:
            tmp_dir.mkdir(parents=True, exist_ok=True)
            self.raw.execute(f"SET temp_directory = '{tmp_dir}'")
        self.raw.execute("SET preserve_insertion_order = false")
        self.raw.execute("SET enable_progress_bar = false")

    @cached_property
    def ibis(self) -> ibis.BaseBackend:
        """The Ibis backend over the same connection (what model code uses)."""
        import ibis

        backend = ibis.duckdb.from_connection(self.raw)
        # Ibis sets the session zone to UTC; the brand's zone is what makes calendar functions
        # (and the importer's reading of naive times) brand-local, so put it back.
        self._set_session_zone()
        return backend

    def _set_session_zone(self) -> None:
        self.raw.execute(f"SET TimeZone = '{self.settings.zone.key}'")

    def ensure_tables(self) -> None:
        for t in TABLES.values():
            self.raw.execute(create_table_sql(t))
        self.raw.execute(KEY_SEEN_DDL)

    def table(self, name: str) -> ibis.Table:
        return self.ibis.table(name)

    def has_table(self, name: str) -> bool:
        return name in self.ibis.list_tables()

    def count(self, name: str) -> int:
        return int(scalar(self.raw, f'SELECT count(*) FROM "{name}"'))

    def memory_limit_bytes(self) -> int:
        """The engine's memory limit in bytes (as the engine reports it, e.g. ``11.1 GiB``)."""
        return parse_bytes(scalar(self.raw, "SELECT current_setting('memory_limit')"))

    def close(self) -> None:
        self.raw.close()


_UNITS = {"": 1, "b": 1, "byte": 1, "bytes": 1,
          **{u + "b": 1000**i for i, u in enumerate("kmgtpe", 1)},
          **{u + "ib": 1024**i for i, u in enumerate("kmgtpe", 1)}}


def parse_bytes(text: str) -> int:
    """``"11.1 GiB"``, ``"10GB"``, ``"500 bytes"`` → bytes."""
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*", text or "")
    if not m or m.group(2).lower() not in _UNITS:
        raise ValueError(f"not an amount of memory: {text!r}")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])
