"""Dirty rows, the kind real exports carry, mixed into every event table.

For an event table of ``n`` clean rows in a chunk, ``floor(n · DIRTY_RATE + 0.5)`` extra rows are
added — copies of distinct clean rows, each spoiled one way, placed at a random later position:

- ``bad_timestamp``: the time is ``2025-13-45 25:61:00``, ``昨天``, ``2025/02/30`` or ``unknown``;
- ``empty_timestamp``: the required time is null;
- ``empty_id``: the id (first id column) is empty;
- ``exact_duplicate``: an exact copy of an earlier row;
- ``conflicting_duplicate``: the same id as an earlier row with different content;
- ``bad_key``: the consumer key is ``phone:12345``, ``foo:bar``, ``phone:`` or ``wecom``;
- ``negative_amount``: the money column is negative (orders' amount, order lines' unit price).

Rows spoiled by anything but a duplicate get a fresh id (the original id + ``-x``), so each
dirty row breaks exactly one rule and the clean rows stay complete. Dirty rows are therefore
``DIRTY_RATE / (1 + DIRTY_RATE)`` ≈ 0.5 % of an event file's rows (fewer in tiny files).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from siyu.schema import TABLES

DIRTY_RATE = 0.005
BAD_TIMESTAMPS = ("2025-13-45 25:61:00", "昨天", "2025/02/30", "unknown")
BAD_KEYS = ("phone:12345", "foo:bar", "phone:", "wecom")
MONEY = {"orders": "amount", "order_items": "unit_price"}
CHANGED = {"order_items": "quantity", "orders": "amount"}
"""Column a conflicting duplicate changes (others: the time column)."""


def dirty_kinds(name: str) -> tuple[str, ...]:
    t = TABLES[name]
    kinds = ["empty_id", "exact_duplicate", "conflicting_duplicate"]
    if t.time_column:
        kinds += ["bad_timestamp", "empty_timestamp"]
    if "consumer_key" in t.column_names:
        kinds.append("bad_key")
    if name in MONEY:
        kinds.append("negative_amount")
    return tuple(kinds)


def dirty_count(clean_rows: int) -> int:
    return int(np.floor(clean_rows * DIRTY_RATE + 0.5))


def add_dirty_rows(name: str, clean: pa.Table, rng: np.random.Generator) -> pa.Table:
    """``clean`` with its dirty rows mixed in (see the module docstring)."""
    n = clean.num_rows
    k = dirty_count(n)
    if k == 0:
        return clean
    table = TABLES[name]
    kinds = dirty_kinds(name)
    src = np.sort(rng.choice(n, size=k, replace=False))
    kind = np.array(kinds)[rng.integers(0, len(kinds), k)]
    dirty = clean.take(pa.array(src))

    def is_(*names: str) -> pa.Array:
        return pa.array(np.isin(kind, names))

    def put(col: str, mask: pa.Array, value) -> None:
        nonlocal dirty
        i = dirty.schema.get_field_index(col)
        arr = dirty.column(i).combine_chunks()
        if not isinstance(value, pa.Array):
            value = pa.scalar(value, arr.type)
        dirty = dirty.set_column(i, col, pc.if_else(mask, value, arr))

    id_col = table.id_columns[0]
    ids = dirty.column(id_col).combine_chunks()
    fresh = pc.binary_join_element_wise(ids, "-x", "")
    put(id_col, is_("bad_timestamp", "empty_timestamp", "bad_key", "negative_amount"), fresh)
    put(id_col, is_("empty_id"), "")
    if table.time_column:
        tcol = table.time_column
        bad = pa.array([BAD_TIMESTAMPS[i] for i in rng.integers(0, len(BAD_TIMESTAMPS), k)])
        put(tcol, is_("bad_timestamp"), bad)
        put(tcol, is_("empty_timestamp"), pa.scalar(None, pa.string()))
    if "consumer_key" in table.column_names:
        bad = pa.array([BAD_KEYS[i] for i in rng.integers(0, len(BAD_KEYS), k)])
        put("consumer_key", is_("bad_key"), bad)
    if name in MONEY:
        col = dirty.column(MONEY[name]).combine_chunks()
        put(MONEY[name], is_("negative_amount"),
            pc.if_else(pc.greater(col, 0), pc.negate(col), pa.scalar(-1.0)))
    changed = CHANGED.get(name, table.time_column)
    other = clean.column(changed).take(pa.array((src + 1) % n)).combine_chunks()
    col = dirty.column(changed).combine_chunks()
    if pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
        other = pc.add(col, pa.scalar(1, col.type))
    put(changed, is_("conflicting_duplicate"), other)

    position = src + (rng.random(k) * (n - src)).astype(np.int64)
    order = np.argsort(np.concatenate([np.arange(n) * 2, position * 2 + 1]), kind="stable")
    return pa.concat_tables([clean, dirty]).take(pa.array(order))
