"""What a OneID run changed compared with the previous map (DOMAIN §3: a merge never loses
history).

Only keys whose consumer id differs between the previous and the new map (new keys, removed
keys, keys that moved) are looked at, so a run that changes little compares fast. For each old
consumer id touched:

- kept: some key still maps to it (its oldest key is still the oldest of its consumer);
- ``merged``: the old id is gone and all its keys went to one other consumer;
- ``split``: its keys now belong to two or more consumers (a row per new id other than the
  old one);
- ``removed``: none of its keys is left.

Rows for merged, split and removed ids are appended to ``identity_id_changes`` so an old id can
be followed to the current one(s).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ChangeCounts", "diff_maps", "CHANGES_TEMP", "DELTA_TEMP"]

CHANGES_TEMP = "_oneid_changes"
DELTA_TEMP = "_oneid_delta"


@dataclass
class ChangeCounts:
    """How the new consumers relate to the previous map."""

    new_consumers: int = 0
    """consumers made only of keys the previous map did not have"""
    merged: int = 0
    """previous ids that disappeared into another consumer"""
    split: int = 0
    """previous ids whose keys now belong to two or more consumers"""
    unchanged: int = 0
    """consumers with the same id and exactly the same keys as before"""
    changed: int = 0
    """consumers that kept their id but gained or lost keys"""
    removed: int = 0
    """previous ids none of whose keys is left"""


def diff_maps(con, old: str, new: str, run_id: str, consumers: int) -> tuple[ChangeCounts, int]:
    """Compare map ``old`` (a table) with ``new`` (a relation), both ``key, consumer_id,
    first_seen``; ``consumers`` is the number of distinct ids in ``new``.

    Leaves in temporary tables the rows of ``new`` that differ from ``old``
    (``_oneid_delta``: key, old_id, new_id, first_seen; new_id NULL for a removed key) and the
    rows for ``identity_id_changes`` (``_oneid_changes``). Returns the counts and the number
    of differing keys.
    """
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {DELTA_TEMP} AS
        SELECT coalesce(o.key, n.key) AS key, o.consumer_id AS old_id, n.consumer_id AS new_id,
               n.first_seen
        FROM "{old}" o FULL OUTER JOIN {new} n ON o.key = n.key
        WHERE o.consumer_id IS DISTINCT FROM n.consumer_id
           OR o.first_seen IS DISTINCT FROM n.first_seen""")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _oneid_moved AS
        SELECT old_id, new_id, count(*) AS n_keys FROM {DELTA_TEMP}
        WHERE old_id IS DISTINCT FROM new_id GROUP BY ALL""")
    # ids touched by a moved key, and whether each exists in the other map
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _oneid_touched AS
        WITH ids AS (SELECT old_id AS id FROM _oneid_moved WHERE old_id IS NOT NULL
                     UNION SELECT new_id FROM _oneid_moved WHERE new_id IS NOT NULL)
        SELECT id,
               id IN (SELECT consumer_id FROM "{old}" WHERE consumer_id IN (SELECT id FROM ids))
                   AS in_old,
               id IN (SELECT consumer_id FROM {new} WHERE consumer_id IN (SELECT id FROM ids))
                   AS in_new
        FROM ids""")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _oneid_old AS
        SELECT t.id AS old_id, t.in_new AS kept,
               count(m.new_id) + (CASE WHEN t.in_new THEN 1 ELSE 0 END) AS n_new
        FROM _oneid_touched t JOIN _oneid_moved m ON m.old_id = t.id
        WHERE t.in_old GROUP BY t.id, t.in_new""")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {CHANGES_TEMP} AS
        SELECT '{run_id}' AS run_id, m.old_id AS old_consumer_id, m.new_id AS new_consumer_id,
               CASE WHEN o.n_new >= 2 THEN 'split' ELSE 'merged' END AS change
        FROM _oneid_moved m JOIN _oneid_old o USING (old_id)
        WHERE m.new_id IS NOT NULL AND (o.n_new >= 2 OR NOT o.kept)
        UNION ALL
        SELECT '{run_id}', old_id, NULL, 'removed' FROM _oneid_old WHERE n_new = 0""")
    merged, split, removed = con.execute("""
        SELECT count(*) FILTER (n_new = 1 AND NOT kept), count(*) FILTER (n_new >= 2),
               count(*) FILTER (n_new = 0)
        FROM _oneid_old""").fetchall()[0]
    touched_new, changed, brand_new = con.execute("""
        SELECT count(*) FILTER (in_new), count(*) FILTER (in_new AND in_old),
               count(*) FILTER (in_new AND NOT in_old AND id NOT IN (
                   SELECT new_id FROM _oneid_moved WHERE old_id IS NOT NULL AND new_id IS NOT NULL))
        FROM _oneid_touched""").fetchall()[0]
    delta = con.execute(f"SELECT count(*) FROM {DELTA_TEMP}").fetchall()[0][0]
    for t in ("_oneid_moved", "_oneid_touched", "_oneid_old"):
        con.execute(f"DROP TABLE IF EXISTS {t}")
    counts = ChangeCounts(
        new_consumers=int(brand_new), merged=int(merged), split=int(split),
        unchanged=consumers - int(touched_new), changed=int(changed), removed=int(removed),
    )
    return counts, int(delta)
