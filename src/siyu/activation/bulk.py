"""Bulk writes of the engine's batch transaction. On SQLite the rows go straight to the
driver's ``executemany`` (values converted the way SQLAlchemy stores them: UTC
``YYYY-MM-DD HH:MM:SS.ffffff``, JSON text), which is what lets one process write thousands of
outbox rows a second; other databases use SQLAlchemy Core."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Table, bindparam

__all__ = ["insert_rows", "upsert_counts", "update_rows"]


def _dt(v: datetime | None) -> str | None:
    """``YYYY-MM-DD HH:MM:SS.ffffff`` in UTC (what SQLAlchemy stores; isoformat is several
    times faster than strftime)."""
    if v is None:
        return None
    if v.tzinfo is not None and v.tzinfo is not UTC:
        v = v.astimezone(UTC)
    return v.isoformat(" ", "microseconds")[:26]  # without the "+00:00" of an aware value


def _converters(table: Table, cols: list[str]):
    out = []
    for c in cols:
        t = table.c[c].type
        if isinstance(t, DateTime):
            out.append(_dt)
        elif isinstance(t, JSON):
            out.append(lambda v: None if v is None else json.dumps(v))
        elif isinstance(t, Boolean):
            out.append(lambda v: None if v is None else int(v))
        else:
            out.append(None)
    return out


def _tuples(table: Table, cols: list[str], rows: list[dict[str, Any]]) -> list[tuple]:
    """The rows as driver tuples, built column by column (C-level loops: this is the hot
    path of the engine's outbox writes)."""
    columns = []
    for c, f in zip(cols, _converters(table, cols), strict=True):
        vals = [r[c] for r in rows]
        columns.append(list(map(f, vals)) if f else vals)
    return list(zip(*columns, strict=True))


def _q(name: str) -> str:
    return '"' + name + '"'


def insert_rows(conn, table: Table, rows: list[dict[str, Any]], *, ignore: bool = False) -> None:
    """Insert ``rows`` (all with the same keys); ``ignore``: skip rows whose unique key is
    stored already."""
    if not rows:
        return
    if conn.dialect.name == "sqlite":
        cols = list(rows[0])
        sql = (f"INSERT {'OR IGNORE ' if ignore else ''}INTO {table.name} "
               f"({', '.join(map(_q, cols))}) VALUES ({', '.join('?' * len(cols))})")
        conn.exec_driver_sql(sql, _tuples(table, cols, rows))
        return
    if ignore and conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert

        conn.execute(insert(table).on_conflict_do_nothing(), rows)
        return
    conn.execute(table.insert(), rows)


def upsert_counts(conn, table: Table, rows: list[dict[str, Any]], keys: tuple[str, ...],
                  value: str) -> None:
    """Insert ``rows``, or set ``value`` where the ``keys`` are stored already."""
    if not rows:
        return
    cols = list(rows[0])
    if conn.dialect.name == "sqlite":
        sql = (f"INSERT INTO {table.name} ({', '.join(map(_q, cols))}) VALUES "
               f"({', '.join('?' * len(cols))}) ON CONFLICT ({', '.join(map(_q, keys))}) "
               f"DO UPDATE SET {_q(value)} = excluded.{_q(value)}")
        conn.exec_driver_sql(sql, _tuples(table, cols, rows))
        return
    from sqlalchemy.dialects.postgresql import insert

    stmt = insert(table)
    conn.execute(stmt.on_conflict_do_update(index_elements=list(keys),
                                            set_={value: stmt.excluded[value]}), rows)


def update_rows(conn, table: Table, key: str, rows: list[dict[str, Any]]) -> None:
    """``UPDATE table SET <other columns> WHERE key = row[key]`` for every row."""
    if not rows:
        return
    cols = [c for c in rows[0] if c != key]
    if conn.dialect.name == "sqlite":
        sql = (f"UPDATE {table.name} SET {', '.join(_q(c) + ' = ?' for c in cols)} "
               f"WHERE {_q(key)} = ?")
        conn.exec_driver_sql(sql, _tuples(table, cols + [key], rows))
        return
    conn.execute(table.update().where(table.c[key] == bindparam("b_" + key))
                 .values({c: bindparam(c) for c in cols}),
                 [{**{c: r[c] for c in cols}, "b_" + key: r[key]} for r in rows])
