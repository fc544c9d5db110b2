"""The index's key map: event windows the recency bitmaps cannot answer, counted without
joining the events to OneID's map in the warehouse.

An event-window term with a filter (``visits(last 90d, field = "mini_program") >= 1``), a sum
(``gmv``), a number above :data:`~siyu.audience.index.RECENCY_DEPTH` or a
window longer than the recency section must read the events. Joining them to
``identity_map`` (tens of millions of string keys) was most of the time of such a count. The
index therefore also keeps every key of ``identity_map`` as DuckDB's 64-bit ``hash()`` of
it, sorted, beside its consumer's ordinal (two flat arrays in one ``keys-*.bin`` file, read
through ``mmap``). A count then:

1. reads the window's matching events from the warehouse as ``hash(consumer_key)`` (and the
   value to sum, or the day / order to count once), grouped per key where a sum or a
   distinct count needs it;
2. finds each hash in the sorted array (``numpy.searchsorted``; a key that is not there was
   imported after the last OneID run and counts nowhere, exactly as the join drops it);
3. adds the per-key values up per consumer ordinal (``bincount``) and compares.

It is exact, not an estimate: the map is written only when no two keys share a hash (checked
at build; otherwise the index has no key map and these terms are joined in the warehouse as
before), and it is used only while the identity part of the index's fingerprint is fresh and
the DuckDB that hashes is the one that built it. The events themselves are read live, so
rows imported after the build count (when OneID already knows their key).
"""

from __future__ import annotations

import operator
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import duckdb
import numpy as np
from pyroaring import BitMap

from siyu.audience.ast import EventAgg
from siyu.audience.compile import event_rows
from siyu.models.sources import Sources

__all__ = ["write_keymap", "KeyMap", "KeyedSources", "usable"]

_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
    ">": operator.gt, ">=": operator.ge}


class KeyedSources(Sources):
    """Sources whose event tables carry their own key as ``consumer_id`` (no OneID join):
    :func:`~siyu.audience.compile.event_rows` over them yields the same rows per key."""

    def with_consumer(self, name: str, key: str = "consumer_key"):
        t = self.table(name)
        return t.mutate(consumer_id=t[key])


def write_keymap(ws, path, ordinals: str) -> tuple[dict[str, Any] | None, KeyMap | None]:
    """Write the key map of ``identity_map`` to ``path``; returns its manifest section
    ``{"file", "keys", "duckdb"}`` and the map, or ``(None, None)`` when two keys share a hash
    (then there is no key map and event windows are joined in the warehouse)."""
    got = ws.warehouse.raw.execute(
        f"SELECT hash(m.key) AS h, o.ordinal AS o FROM identity_map m "
        f"JOIN {ordinals} o USING (consumer_id) ORDER BY h").fetchnumpy()
    h = np.ascontiguousarray(got["h"], dtype=np.uint64)
    o = np.ascontiguousarray(got["o"], dtype=np.uint32)
    if len(h) > 1 and bool(np.any(h[1:] == h[:-1])):
        return None, None
    tmp = path.with_suffix(".part")
    with open(tmp, "wb") as f:
        f.write(h.tobytes())
        f.write(o.tobytes())
    tmp.replace(path)
    return ({"file": path.name, "keys": int(len(h)), "duckdb": duckdb.__version__},
            KeyMap.of(h, o))


def usable(section: dict[str, Any] | None) -> bool:
    """Whether a manifest's key-map section can be used by this process."""
    return bool(section) and section.get("duckdb") == duckdb.__version__


class KeyMap:
    """The sorted hashes and their ordinals, over a buffer holding both (see the module)."""

    def __init__(self, buf, keys: int):
        self.hashes = np.frombuffer(buf, dtype=np.uint64, count=keys)
        self.ordinals = np.frombuffer(buf, dtype=np.uint32, count=keys, offset=keys * 8)

    @classmethod
    def of(cls, hashes: np.ndarray, ordinals: np.ndarray) -> KeyMap:
        km = cls.__new__(cls)
        km.hashes, km.ordinals = hashes, ordinals
        return km

    @contextmanager
    def in_duckdb(self, raw) -> Iterator[str]:
        """The map as a DuckDB view ``(h UBIGINT, ordinal UINTEGER)`` of the arrays (no
        copy) while the block runs; yields its name."""
        import pyarrow as pa

        name = f"_keymap_{secrets.token_hex(4)}"
        raw.register(name, pa.table({"h": self.hashes, "ordinal": self.ordinals}))
        try:
            yield name
        finally:
            raw.unregister(name)

    def lookup(self, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(ordinals, found)`` of ``hashes`` (sorted ones are looked up fastest);
        ``found`` marks the hashes that are keys of the map."""
        if not len(self.hashes):
            return np.zeros(0, np.uint32), np.zeros(len(hashes), bool)
        pos = np.searchsorted(self.hashes, hashes)
        pos[pos == len(self.hashes)] = 0
        found = self.hashes[pos] == hashes
        return self.ordinals[pos[found]], found

    def event(self, ws, n: EventAgg, instant: datetime) -> BitMap:
        """The consumers who have events of ``n`` in its window and whose count or sum meets
        ``n``'s comparison (consumers without any such event are not in it: the caller
        takes the complement for comparisons that hold at zero)."""
        src = KeyedSources(ws.warehouse.ibis, ws.settings)
        rows, at = event_rows(src, n, instant)
        lines = "line_value" in rows.columns
        sql = ws.warehouse.ibis.compile(rows)
        raw = ws.warehouse.raw
        if n.kind == "gmv":
            value = "line_value" if lines else "amount"
            got = raw.execute(f"SELECT hash(consumer_id) AS h, "
                              f"CAST(sum({value}) * 100 AS BIGINT) AS v FROM ({sql}) "
                              "GROUP BY h ORDER BY h").fetchnumpy()
            ords, found = self.lookup(np.asarray(got["h"], np.uint64))
            cents = np.bincount(ords, weights=np.asarray(got["v"], np.float64)[found])
            have = np.bincount(ords, minlength=len(cents)) > 0
            values = cents / 100
        elif n.kind == "purchase_days":
            values, have = self._days(raw, sql, at)
        else:
            if lines:  # an order holding several matching lines counts once
                q = f"SELECT DISTINCT hash(consumer_id) AS h, order_id FROM ({sql})"
            else:
                q = f"SELECT hash(consumer_id) AS h FROM ({sql})"
            # sorted by DuckDB (in parallel): sorted hashes are looked up fastest
            h = np.asarray(raw.execute(q + " ORDER BY h").fetchnumpy()["h"], np.uint64)
            ords, _ = self.lookup(h)
            values = np.bincount(ords)
            have = values > 0
        hit = have & _OPS[n.op](values, n.value)
        return BitMap(np.flatnonzero(hit).astype(np.uint32))

    def _days(self, raw, sql: str, at: str) -> tuple[np.ndarray, np.ndarray]:
        """Distinct purchase days per consumer ordinal: counted per key in the warehouse
        and added up; a consumer whose keys bought on the same day would be counted twice
        that way, so the consumers with more than one key in the window are counted again
        over their own events (a join with just their keys' hashes)."""
        day = f"CAST({at} AS DATE)"
        got = raw.execute(f"SELECT hash(consumer_id) AS h, count(DISTINCT {day}) AS v "
                          f"FROM ({sql}) GROUP BY h ORDER BY h").fetchnumpy()
        h = np.asarray(got["h"], np.uint64)
        ords, found = self.lookup(h)
        values = np.bincount(ords, weights=np.asarray(got["v"], np.float64)[found])
        keys = np.bincount(ords, minlength=len(values))
        several = keys[ords] > 1
        if several.any():
            import pyarrow as pa

            name = f"_keymap_{secrets.token_hex(4)}"
            raw.register(name, pa.table({"h": h[found][several], "o": ords[several]}))
            try:
                again = raw.execute(
                    f"SELECT m.o, count(DISTINCT {day}) AS v FROM ({sql}) r "
                    f"JOIN {name} m ON hash(r.consumer_id) = m.h GROUP BY m.o").fetchnumpy()
            finally:
                raw.unregister(name)
            values[np.asarray(again["o"], np.int64)] = again["v"]
        return values, keys > 0
