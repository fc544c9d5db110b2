"""Warehouse tables written by OneID (``siyu identity resolve``).

- ``identity_map``: one row per consumer key with its ``consumer_id`` (rewritten each run:
  rebuilt, or only its changed rows replaced);
- ``identity_conflicts``: links the guard refused in the latest run (replaced each run);
- ``identity_id_changes``: history, appended each run: consumer ids that disappeared (merged
  into another or split), so an old id can be followed to the current one(s).
"""

from __future__ import annotations

__all__ = ["MAP", "CONFLICTS", "CHANGES", "ddl", "TABLE_NAMES"]

MAP = "identity_map"
CONFLICTS = "identity_conflicts"
CHANGES = "identity_id_changes"
TABLE_NAMES = (MAP, CONFLICTS, CHANGES)

_COLUMNS = {
    MAP: """
        key VARCHAR NOT NULL,          -- consumer key type:value
        key_type VARCHAR NOT NULL,
        consumer_id VARCHAR NOT NULL,  -- 'c' + 16 hex digits of md5(oldest key)
        first_seen TIMESTAMPTZ,        -- earliest time the key was seen (key_seen)
        run_id VARCHAR NOT NULL        -- the run that last (re)assigned the row""",
    CONFLICTS: """
        key_a VARCHAR NOT NULL,
        key_b VARCHAR NOT NULL,
        source VARCHAR,
        observed_at TIMESTAMPTZ,
        kept_consumer_id_a VARCHAR,    -- where key_a ended up
        kept_consumer_id_b VARCHAR,
        reason VARCHAR NOT NULL,       -- 'guard:phone', 'guard:member+phone'…
        run_id VARCHAR NOT NULL""",
    CHANGES: """
        run_id VARCHAR NOT NULL,
        old_consumer_id VARCHAR NOT NULL,
        new_consumer_id VARCHAR,       -- NULL when every key of the old id is gone
        change VARCHAR NOT NULL,       -- merged | split | removed
        changed_at TIMESTAMPTZ NOT NULL -- when the run that recorded the change finished""",
}


def ddl(table: str, name: str | None = None) -> str:
    """``CREATE TABLE IF NOT EXISTS`` for one of the OneID tables, optionally under ``name``."""
    return f'CREATE TABLE IF NOT EXISTS "{name or table}" ({_COLUMNS[table]}\n)'
