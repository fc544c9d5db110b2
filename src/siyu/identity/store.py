"""Writing a OneID result into the warehouse, atomically.

The new map arrives as a relation ``(key, consumer_id, first_seen)`` (an Arrow table registered
on the connection). Against an existing map, only the keys that differ are rewritten (a re-run
that changes little writes little); the first run, or one that changes much, builds a new table
and swaps it in. Either way the map, the conflicts and the id-change history change in one
transaction: a reader sees the old state or the new one.
"""

from __future__ import annotations

from siyu.identity import tables as T
from siyu.identity.changes import CHANGES_TEMP, DELTA_TEMP, ChangeCounts, diff_maps

__all__ = ["has_map", "write_result", "NEW_MAP", "NEW_CONFLICTS", "REWRITE_SHARE"]

NEW_MAP = f"{T.MAP}__new"
NEW_CONFLICTS = f"{T.CONFLICTS}__new"
REWRITE_SHARE = 0.2
"""Above this share of changed keys the map is rebuilt instead of updated in place."""


def has_map(con) -> bool:
    rows = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND NOT temporary",
        [T.MAP]).fetchall()
    return bool(rows[0][0])


def _map_select(source: str, key: str, cid: str, run_id: str) -> str:
    return (f"SELECT {key}::VARCHAR AS key, split_part({key}, ':', 1)::VARCHAR AS key_type, "
            f"{cid}::VARCHAR AS consumer_id, first_seen::TIMESTAMPTZ AS first_seen, "
            f"'{run_id}'::VARCHAR AS run_id FROM {source}")


def write_result(con, new_map: str, conflicts: str, run_id: str, consumers: int,
                 keys: int) -> ChangeCounts:
    """Store the map held in relation ``new_map`` and the conflicts in relation ``conflicts``
    (the columns of ``identity_conflicts`` without ``run_id``); return the change counts."""
    con.execute(f'DROP TABLE IF EXISTS "{NEW_CONFLICTS}"')
    con.execute(T.ddl(T.CONFLICTS, NEW_CONFLICTS))
    con.execute(f"""INSERT INTO "{NEW_CONFLICTS}" SELECT *, '{run_id}' FROM {conflicts}""")
    if has_map(con):
        counts, delta = diff_maps(con, T.MAP, new_map, run_id, consumers)
        rebuild = delta > REWRITE_SHARE * max(keys, 1)
    else:
        con.execute(f"""CREATE OR REPLACE TEMP TABLE {CHANGES_TEMP} AS
                        SELECT NULL::VARCHAR AS run_id, NULL::VARCHAR AS old_consumer_id,
                               NULL::VARCHAR AS new_consumer_id, NULL::VARCHAR AS change
                        LIMIT 0""")
        counts, rebuild = ChangeCounts(new_consumers=consumers), True
    if rebuild:
        con.execute(f'DROP TABLE IF EXISTS "{NEW_MAP}"')
        con.execute(f'CREATE TABLE "{NEW_MAP}" AS '
                    + _map_select(new_map, "key", "consumer_id", run_id))
    con.execute("BEGIN TRANSACTION")
    try:
        if rebuild:
            con.execute(f'DROP TABLE IF EXISTS "{T.MAP}"')
            con.execute(f'ALTER TABLE "{NEW_MAP}" RENAME TO "{T.MAP}"')
        else:
            con.execute(f'DELETE FROM "{T.MAP}" WHERE key IN (SELECT key FROM {DELTA_TEMP})')
            con.execute(f'INSERT INTO "{T.MAP}" ' + _map_select(
                f"{DELTA_TEMP} WHERE new_id IS NOT NULL", "key", "new_id", run_id))
        con.execute(f'DROP TABLE IF EXISTS "{T.CONFLICTS}"')
        con.execute(f'ALTER TABLE "{NEW_CONFLICTS}" RENAME TO "{T.CONFLICTS}"')
        con.execute(T.ddl(T.CHANGES))
        con.execute(f"""INSERT INTO {T.CHANGES}
                        SELECT run_id, old_consumer_id, new_consumer_id, change, now()
                        FROM {CHANGES_TEMP}""")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return counts
