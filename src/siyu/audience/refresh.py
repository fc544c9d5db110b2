"""``siyu audience refresh``: recompute saved audiences, store their members and the diff.

For each audience, in dependency order (an audience after every audience it names with
``in_audience``, so it sees their new members), at the end of local day ``as_of``:

- warehouse ``audience_members(audience, consumer_id)``: replaced by the new members;
- warehouse ``audience_changes(audience, consumer_id, change, refresh_id, at)``: one row per
  consumer who entered (``enter``) or left (``leave``) since the previous refresh — on the
  first refresh every member enters. ``at`` is the refresh time (UTC, ``TIMESTAMP``).
  Journeys read these rows as enter/leave triggers;
- operational ``audience_refreshes``: the refresh's counts and time; ``audiences.
  last_refresh_id`` points at it.

The warehouse part of one audience is one transaction (members and changes together). The
bitmap index's audience section is rewritten at the end (:func:`siyu.audience.index.
update_audiences`).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import insert, update

from siyu.audience.ast import Node
from siyu.audience.compile import AUDIENCE_MEMBERS, compile_audience
from siyu.audience.saved import refresh_order
from siyu.audience.service import local_day
from siyu.models.sources import Sources
from siyu.ops.tables import audience_refreshes, audiences

__all__ = ["refresh", "AUDIENCE_CHANGES", "ensure_tables"]

AUDIENCE_CHANGES = "audience_changes"

_DDL = (  # nullable columns, as every table compile.py unions with; "at" is a DuckDB keyword
    f"CREATE TABLE IF NOT EXISTS {AUDIENCE_MEMBERS} (audience VARCHAR, consumer_id VARCHAR)",
    f"CREATE TABLE IF NOT EXISTS {AUDIENCE_CHANGES} (audience VARCHAR, consumer_id VARCHAR, "
    'change VARCHAR, refresh_id VARCHAR, "at" TIMESTAMP)',
)


def ensure_tables(ws) -> None:
    """Create ``audience_members`` and ``audience_changes`` if missing."""
    for sql in _DDL:
        ws.warehouse.raw.execute(sql)


def _refresh_id(at: datetime) -> str:
    return f"{at:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"


def _refresh_one(ws, name: str, tree: Node, day: date) -> dict[str, Any]:
    t0 = time.perf_counter()
    at = datetime.now(UTC)
    rid = _refresh_id(at)
    con = ws.warehouse.raw
    tmp = f"_audience_new_{secrets.token_hex(4)}"
    expr = compile_audience(Sources.of(ws), tree, day)
    ws.warehouse.ibis.create_table(tmp, expr.select("consumer_id").distinct(), temp=True)
    naive = at.replace(tzinfo=None)  # the column is TIMESTAMP (UTC); no session-zone shift
    try:
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(
                f"INSERT INTO {AUDIENCE_CHANGES} SELECT ?, n.consumer_id, 'enter', ?, ? "
                f"FROM {tmp} n WHERE NOT EXISTS (SELECT 1 FROM {AUDIENCE_MEMBERS} m "
                f"WHERE m.audience = ? AND m.consumer_id = n.consumer_id)",
                [name, rid, naive, name])
            con.execute(
                f"INSERT INTO {AUDIENCE_CHANGES} SELECT m.audience, m.consumer_id, 'leave', ?, ? "
                f"FROM {AUDIENCE_MEMBERS} m WHERE m.audience = ? AND NOT EXISTS "
                f"(SELECT 1 FROM {tmp} n WHERE n.consumer_id = m.consumer_id)",
                [rid, naive, name])
            counts = dict(con.execute(
                f"SELECT change, count(*) FROM {AUDIENCE_CHANGES} WHERE refresh_id = ? "
                "GROUP BY change", [rid]).fetchall())
            con.execute(f"DELETE FROM {AUDIENCE_MEMBERS} WHERE audience = ?", [name])
            con.execute(f"INSERT INTO {AUDIENCE_MEMBERS} SELECT ?, consumer_id FROM {tmp}",
                        [name])
            members = int(con.execute(f"SELECT count(*) FROM {tmp}").fetchall()[0][0])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    finally:
        con.execute(f"DROP TABLE IF EXISTS {tmp}")
    ms = int(round((time.perf_counter() - t0) * 1000))
    row = {"refresh_id": rid, "audience": name, "at": at, "as_of": day, "members": members,
           "entered": int(counts.get("enter", 0)), "left": int(counts.get("leave", 0)),
           "ms": ms}
    with ws.ops.engine.begin() as c:
        c.execute(insert(audience_refreshes).values(**row))
        c.execute(update(audiences).where(audiences.c.name == name)
                  .values(last_refresh_id=rid))
    return {"audience": name, "refresh_id": rid, "at": at.isoformat(timespec="seconds"),
            "members": members, "entered": row["entered"], "left": row["left"], "ms": ms}


def refresh(ws, name: str | None = None, as_of: date | None = None, *,
            progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Refresh audience ``name`` (and the audiences it uses, first) or every saved audience,
    at the end of local day ``as_of`` (default: today). Returns ``{"as_of", "audiences":
    [{"audience", "refresh_id", "at", "members", "entered", "left", "ms"}…], "index"}``
    (``index``: whether the bitmap index's audience section was updated)."""
    from siyu.audience.index import update_audiences

    day = local_day(ws, as_of)
    order = refresh_order(ws, name)
    ensure_tables(ws)
    done = []
    for i, (n, tree) in enumerate(order):
        done.append(_refresh_one(ws, n, tree, day))
        if progress:
            progress(i + 1, len(order))
    updated = update_audiences(ws) if done else False
    return {"as_of": day.isoformat(), "audiences": done, "index": updated}
