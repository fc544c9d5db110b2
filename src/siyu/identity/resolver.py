"""OneID resolution (DOMAIN §3): keys → consumers, in bulk.

1. DuckDB groups every distinct key (``key_seen``, plus link keys missing from it) with its
   first_seen and guard code into an Arrow table, registered back as ``_oneid_nodes``; a key's
   position in it is its node number ``0..n-1`` (column ``id``).
2. The link endpoints come back as NumPy arrays; SciPy finds the connected components.
3. Components holding two keys of one guarded type (``settings.oneid_guard_types``) are re-built
   by a deterministic union-find over their links in canonical order (observed_at, NULLs last;
   smaller key; larger key; source): a link that would join two guarded keys is refused and
   reported as a conflict, so earlier links win.
4. ``consumer_id`` = ``'c'`` + the first 16 hex digits of md5(``settings.id_salt`` + the component's oldest key: least
   first_seen, NULLs last, ties by key order). The result depends only on the keys, times and
   links, never on row order or on the node numbering.
   Only the candidates (the keys with their component's least first_seen) go to DuckDB, which
   breaks ties and computes the md5 in one query, returned as integers; NumPy writes each
   node's id text from its consumer's digest (cheaper than joining every node to its consumer
   in DuckDB, or than fetching id strings).
5. :mod:`siyu.identity.store` writes the map, the conflicts and the id-change history in one
   transaction.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from siyu.identity.changes import CHANGES_TEMP, DELTA_TEMP
from siyu.identity.graph import NO_TIME, GuardedUnionFind, components, guard_violations, oldest
from siyu.identity.keys import mask_key
from siyu.identity.runs import check_run_id, new_run_id, record_end, record_start
from siyu.identity.store import NEW_CONFLICTS, NEW_MAP, write_result

__all__ = ["ResolveReport", "resolve", "MAX_CONFLICT_EXAMPLES"]

MAX_CONFLICT_EXAMPLES = 20
_TEMPS = ("_oneid_badkeys", CHANGES_TEMP, DELTA_TEMP)
_VIEWS = ("_oneid_nodes", "_oneid_bad", "_oneid_reps", "_oneid_newmap", "_oneid_conflicts")
ARROW_BATCH = 1_000_000
"""Rows per Arrow record batch fetched from DuckDB (the node table comes back in chunks)."""
CANONICAL_LINK_ORDER = ("observed_at ASC NULLS LAST, least(key_a, key_b), greatest(key_a, key_b),"
                        " source ASC NULLS LAST")

Progress = Callable[[str], None]


@dataclass
class ResolveReport:
    """What a OneID run found. Conflict examples show masked keys only."""

    run_id: str
    keys: int = 0
    consumers: int = 0
    links: int = 0
    multi_key_consumers: int = 0
    largest_component: int = 0
    conflicts: int = 0
    new_consumers: int = 0
    merged: int = 0
    split: int = 0
    unchanged: int = 0
    changed: int = 0
    removed: int = 0
    guard_types: list[str] = field(default_factory=list)
    conflict_examples: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    stages: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def resolve(ws, *, run_id: str | None = None, progress: Progress | None = None) -> ResolveReport:
    """Resolve every consumer key of the workspace into consumers and store the result
    (``identity_map``, ``identity_conflicts``, ``identity_id_changes``; ``identity_runs``)."""
    run_id = check_run_id(run_id) if run_id else new_run_id()
    record_start(ws.ops, run_id, datetime.now(UTC))
    try:
        report = _Run(ws.warehouse.raw, list(ws.settings.oneid_guard_types),
                      ws.settings.id_salt, run_id, progress).run()
    except BaseException as e:
        record_end(ws.ops, run_id, status="failed", report={"error": str(e)[:2000]})
        raise
    record_end(ws.ops, run_id, status="done", report=report.to_dict())
    return report


@dataclass
class _Conflict:
    key_a: str
    key_b: str
    source: str | None
    observed_at: datetime | None
    reason: str
    node_a: int
    node_b: int
    kept_a: str | None = None
    kept_b: str | None = None


class _Run:
    """One resolution over a DuckDB connection; temporary tables are prefixed ``_oneid_``."""

    def __init__(self, con, guard_types: list[str], salt: str, run_id: str,
                 progress: Progress | None):
        self.con = con
        self.salt = salt
        self.guard_types = guard_types
        self.run_id = run_id
        self.progress = progress or (lambda _stage: None)
        self.report = ResolveReport(run_id=run_id, guard_types=guard_types)
        self._t = time.perf_counter()
        self.nodes: pa.Table | None = None
        """key, first_seen, code, id: one row per node, in node order (``_oneid_nodes``)."""
        self.digest_order = "<u8"

    def _stage(self, done: str, next_stage: str | None) -> None:
        now = time.perf_counter()
        self.report.stages[done] = round(now - self._t, 3)
        self._t = now
        if next_stage:
            self.progress(next_stage)

    # -- the steps -----------------------------------------------------------------------
    def run(self) -> ResolveReport:
        t0 = time.perf_counter()
        r = self.report
        self._cleanup()
        try:
            self.progress("nodes")
            n, first_seen, codes = self._number_nodes(with_links=False)
            self._stage("nodes", "links")
            src, dst, m = self._edges(n)
            if src is None:  # some link keys are missing from key_seen: include them
                n, first_seen, codes = self._number_nodes(with_links=True)
                src, dst, m = self._edges(n)
            r.keys, r.links = n, m
            self._stage("links", "components")
            count, labels = components(n, src, dst)
            del src, dst
            self._stage("components", "guard")
            conflicts = self._apply_guard(labels, count, codes)
            count = int(labels.max()) + 1 if n else 0
            del codes
            self._stage("guard", "ids")
            digests, node_comp = self._consumer_ids(labels, count, first_seen)
            del labels, first_seen
            self._stage("ids", "write")
            self._register_map(digests, node_comp)
            self._register_conflicts(conflicts, digests, node_comp)
            del digests, node_comp
            changes = write_result(self.con, "_oneid_newmap", "_oneid_conflicts", self.run_id,
                                   r.consumers, n)
            self._stage("write", None)
        finally:
            self._cleanup()
        for k, v in asdict(changes).items():
            setattr(r, k, v)
        r.conflicts = len(conflicts)
        r.conflict_examples = [_example(c) for c in conflicts[:MAX_CONFLICT_EXAMPLES]]
        r.seconds = round(time.perf_counter() - t0, 3)
        return r

    def _number_nodes(self, with_links: bool) -> tuple[int, np.ndarray, np.ndarray]:
        """Number the distinct keys ``0..n-1``; return ``n``, each node's first_seen (µs since
        the epoch, :data:`NO_TIME` when unknown) and guard code (index in the guard types or
        -1). The nodes stay in Arrow (:attr:`nodes`, registered as ``_oneid_nodes``): one
        aggregate, no numbering window, and the write reuses the keys without a second
        export."""
        source = "SELECT key, first_seen FROM key_seen"
        if with_links:
            source += (" UNION ALL SELECT key_a, NULL FROM identity_links"
                       " UNION ALL SELECT key_b, NULL FROM identity_links")
        code = " ".join(f"WHEN starts_with(key, '{t}:') THEN {i}"
                        for i, t in enumerate(self.guard_types))
        code = f"CASE {code} ELSE -1 END" if code else "-1"
        con = self.con
        self.nodes = None
        try:
            con.unregister("_oneid_nodes")
        except Exception:  # pragma: no cover - not registered
            pass
        nodes = con.execute(f"""
            SELECT key, min(first_seen) AS first_seen, ({code})::TINYINT AS code
            FROM ({source}) GROUP BY key""").to_arrow_table(ARROW_BATCH)
        n = nodes.num_rows
        nodes = nodes.append_column("id", pa.array(np.arange(n, dtype=np.int32)))
        con.register("_oneid_nodes", nodes)
        self.nodes = nodes
        first_seen = pc.fill_null(nodes["first_seen"].cast(pa.int64()), NO_TIME)
        first_seen = first_seen.to_numpy() if n else np.zeros(0, dtype=np.int64)
        codes = nodes["code"].to_numpy() if n else np.zeros(0, dtype=np.int8)
        return n, first_seen.astype(np.int64, copy=False), codes.astype(np.int8, copy=False)

    def _edges(self, n: int) -> tuple[np.ndarray | None, np.ndarray | None, int]:
        """Link endpoints as node numbers (self-links dropped); ``(None, None, m)`` when a
        link key is not numbered."""
        con = self.con
        m, top = con.execute(
            "SELECT count(*), coalesce(max(rowid) + 1, 0) FROM identity_links").fetchall()[0]
        res = con.sql("""
            SELECT e.r, e.b, n.id
            FROM (SELECT rowid AS r, key_a AS k, false AS b FROM identity_links
                  UNION ALL SELECT rowid, key_b, true FROM identity_links) e
            JOIN _oneid_nodes n ON e.k = n.key""").fetchnumpy()
        if len(res["id"]) < 2 * m:
            return None, None, int(m)
        rows, side, ids = res["r"], res["b"], res["id"]
        del res
        src = np.full(int(top), -1, dtype=np.int32)
        dst = np.full(int(top), -1, dtype=np.int32)
        src[rows[~side]] = ids[~side]
        dst[rows[side]] = ids[side]
        keep = (src >= 0) & (src != dst)
        return src[keep], dst[keep], int(m)

    def _apply_guard(self, labels: np.ndarray, count: int, codes: np.ndarray) -> list[_Conflict]:
        """Re-build the components that hold two keys of a guarded type; relabel their nodes
        in place (new labels after ``count``) and return the refused links."""
        if not self.guard_types or count == 0:
            return []
        bad = guard_violations(labels, count, codes, len(self.guard_types))
        if len(bad) == 0:
            return []
        con = self.con
        mask = np.zeros(count, dtype=bool)
        mask[bad] = True
        bad_nodes = np.flatnonzero(mask[labels]).astype(np.int32)
        con.register("_oneid_bad", pa.table({"id": bad_nodes}))
        con.execute("""CREATE OR REPLACE TEMP TABLE _oneid_badkeys AS
                       SELECT n.id, n.key, n.code FROM _oneid_nodes n
                       SEMI JOIN _oneid_bad b ON n.id = b.id""")
        node_of, guards = {}, {}
        for node, key, code in con.execute("SELECT id, key, code FROM _oneid_badkeys").fetchall():
            node_of[key] = node
            if code >= 0:
                guards[node] = self.guard_types[code]
        links = con.execute(f"""
            SELECT key_a, key_b, source, observed_at FROM identity_links
            WHERE key_a IN (SELECT key FROM _oneid_badkeys) AND key_a <> key_b
            ORDER BY {CANONICAL_LINK_ORDER}""").fetchall()
        uf = GuardedUnionFind(node_of.values(), guards)
        conflicts: list[_Conflict] = []
        for key_a, key_b, source, observed_at in links:
            a, b = node_of[key_a], node_of[key_b]
            clash = uf.link(a, b)
            if clash:
                conflicts.append(_Conflict(key_a, key_b, source, observed_at,
                                           "guard:" + "+".join(clash), a, b))
        roots = uf.roots()
        nodes = np.fromiter(roots.keys(), dtype=np.int64, count=len(roots))
        root_arr = np.fromiter(roots.values(), dtype=np.int64, count=len(roots))
        _, new = np.unique(root_arr, return_inverse=True)
        labels[nodes] = count + new
        return conflicts

    def _consumer_ids(self, labels: np.ndarray, count: int,
                      first_seen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each consumer's id as the first 8 bytes of its md5 (``uint64``, see
        :func:`consumer_id_strings`) and each node's consumer number.

        The id hashes the component's oldest key: least first_seen (NumPy), ties broken by key
        order — first by the keys' leading 8 bytes (NumPy, from the Arrow buffers), which
        settles nearly every tie (tied keys mostly differ in type), then by ``min(key)`` in
        DuckDB for the rest. Only the candidates' keys go back to DuckDB (an Arrow ``take``, no
        join with the nodes), and the digests come back as integers, not strings."""
        con = self.con
        rep, tied = oldest(labels, count, first_seen)
        if len(tied):
            rep, tied = _narrow_ties(self.nodes["key"], labels, count, rep, tied)
        used = np.flatnonzero(rep >= 0)  # labels emptied by the guard drop out
        index_of_label = np.full(count, -1, dtype=np.int32)
        index_of_label[used] = np.arange(len(used), dtype=np.int32)
        node_comp = index_of_label[labels]
        sizes = np.bincount(node_comp, minlength=len(used))
        r = self.report
        r.consumers = len(used)
        r.multi_key_consumers = int((sizes >= 2).sum())
        r.largest_component = int(sizes.max()) if len(sizes) else 0
        del sizes
        has_tie = np.zeros(count, dtype=bool)
        has_tie[labels[tied]] = True
        cand = np.concatenate([rep[used[~has_tie[used]]], tied])
        is_tied = np.zeros(len(cand), dtype=bool)
        is_tied[len(cand) - len(tied):] = True
        del rep, has_tie, used
        con.register("_oneid_reps", pa.table({
            "comp": index_of_label[labels[cand]],
            "key": self.nodes["key"].take(pa.array(cand)),
            "tied": is_tied,
        }))
        del cand, index_of_label
        digest, self.digest_order = _digest_sql(con, "$salt || key")
        # execute, not Connection.sql: with parameters, sql() runs the query before the fetch
        res = con.execute(f"""
            SELECT comp, {digest} AS digest
            FROM (SELECT comp, key FROM _oneid_reps WHERE NOT tied
                  UNION ALL
                  SELECT comp, min(key) FROM _oneid_reps WHERE tied GROUP BY comp)""",
            {"salt": self.salt}).to_arrow_table(ARROW_BATCH)
        con.unregister("_oneid_reps")
        digests = np.empty(r.consumers, dtype=np.uint64)
        digests[res["comp"].to_numpy()] = res["digest"].to_numpy()
        return digests, node_comp

    def _register_map(self, digests: np.ndarray, node_comp: np.ndarray) -> None:
        nodes = self.nodes  # in node order
        ids, start = [], 0
        for chunk in nodes["key"].chunks:  # id text chunk by chunk, aligned with the keys
            end = start + len(chunk)
            ids.append(consumer_id_strings(digests[node_comp[start:end]], self.digest_order))
            start = end
        self.con.register("_oneid_newmap", pa.table({
            "key": nodes["key"],
            "consumer_id": pa.chunked_array(ids, type=ids[0].type if ids else pa.string()),
            "first_seen": nodes["first_seen"]}))

    def _register_conflicts(self, conflicts: list[_Conflict], digests: np.ndarray,
                            node_comp: np.ndarray) -> None:
        if conflicts:
            nodes = np.array([v for c in conflicts for v in (c.node_a, c.node_b)])
            kept = consumer_id_strings(digests[node_comp[nodes]], self.digest_order)
            for i, c in enumerate(conflicts):
                c.kept_a, c.kept_b = kept[2 * i].as_py(), kept[2 * i + 1].as_py()
        self.con.register("_oneid_conflicts", pa.table({
            "key_a": pa.array([c.key_a for c in conflicts], pa.string()),
            "key_b": pa.array([c.key_b for c in conflicts], pa.string()),
            "source": pa.array([c.source for c in conflicts], pa.string()),
            "observed_at": pa.array([c.observed_at for c in conflicts],
                                    pa.timestamp("us", tz="UTC")),
            "kept_consumer_id_a": pa.array([c.kept_a for c in conflicts], pa.string()),
            "kept_consumer_id_b": pa.array([c.kept_b for c in conflicts], pa.string()),
            "reason": pa.array([c.reason for c in conflicts], pa.string()),
        }))

    def _cleanup(self) -> None:
        con = self.con
        self.nodes = None
        for view in _VIEWS:
            try:
                con.unregister(view)
            except Exception:  # pragma: no cover - not registered
                pass
        for t in _TEMPS:
            con.execute(f"DROP TABLE IF EXISTS {t}")
        for t in (NEW_MAP, NEW_CONFLICTS):
            con.execute(f'DROP TABLE IF EXISTS "{t}"')


_DIGEST_FAST = "(md5_number({x}) & 18446744073709551615::UHUGEINT)::UBIGINT"
_DIGEST_HEX = "('0x' || left(md5({x}), 16))::UBIGINT"
_HEX_PAIRS = np.array([ord(f"{b:02x}"[0]) | ord(f"{b:02x}"[1]) << 8 for b in range(256)],
                      dtype="<u2")


def _digest_sql(con, x: str) -> tuple[str, str]:
    """SQL for the first 8 bytes of md5(``x``) as a UBIGINT, and the byte order (NumPy) that
    turns the integer back into those bytes. ``md5_number`` skips the hex string; a probe
    checks its byte order on this DuckDB, and the hex route is the fallback."""
    probe = "siyu"
    got = con.execute("SELECT " + _DIGEST_FAST.format(x="$p"), {"p": probe}).fetchall()[0][0]
    if int(got).to_bytes(8, "little") == hashlib.md5(probe.encode()).digest()[:8]:
        return _DIGEST_FAST.format(x=x), "<u8"
    return _DIGEST_HEX.format(x=x), ">u8"


def _narrow_ties(keys: pa.ChunkedArray, labels: np.ndarray, count: int, rep: np.ndarray,
                 tied: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Break the ties of :func:`~siyu.identity.graph.oldest` by the keys' leading 8 bytes:
    a component whose least prefix is held by one candidate gets it as ``rep``; the
    candidates sharing a least prefix stay in the returned ``tied``."""
    prefix = _key_prefixes(keys, tied)
    if prefix is None:
        return rep, tied
    lab = labels[tied]
    least = np.full(count, np.iinfo(np.uint64).max, dtype=np.uint64)
    np.minimum.at(least, lab, prefix)
    win = prefix == least[lab]
    del prefix, least
    tied, lab = tied[win], lab[win]
    winners = np.bincount(lab, minlength=count)
    rep[lab] = tied
    return rep, tied[winners[lab] > 1]


def _key_prefixes(keys: pa.ChunkedArray, ids: np.ndarray) -> np.ndarray | None:
    """The first 8 bytes of each key ``keys[ids]`` (``ids`` ascending), zero-padded, as a
    big-endian ``uint64``: when two numbers differ, the keys compare the same way (byte
    order, as DuckDB compares VARCHAR); equal numbers decide nothing. ``None`` for an Arrow
    string layout other than offsets + data."""
    out = np.empty(len(ids), dtype=np.uint64)
    start = pos = 0
    for chunk in keys.chunks:
        if not (pa.types.is_string(chunk.type) or pa.types.is_large_string(chunk.type)):
            return None
        end = start + len(chunk)
        stop = int(np.searchsorted(ids, end))
        if stop > pos:
            _, offsets, data = chunk.buffers()
            wide = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
            offsets = np.frombuffer(offsets, dtype=wide)
            data = (np.frombuffer(data, dtype=np.uint8) if data is not None and data.size
                    else np.zeros(1, dtype=np.uint8))
            local = ids[pos:stop] - start + chunk.offset
            begin = offsets[local].astype(np.int64)
            length = offsets[local + 1] - begin
            acc = np.zeros(stop - pos, dtype=np.uint64)
            for b in range(8):
                byte = data[np.minimum(begin + b, len(data) - 1)].astype(np.uint64)
                byte[length <= b] = 0
                acc <<= np.uint64(8)
                acc |= byte
            out[pos:stop] = acc
        pos, start = stop, end
    return out


def consumer_id_strings(digests: np.ndarray, order: str = "<u8") -> pa.Array:
    """``'c'`` + 16 hex digits for each digest (the first 8 bytes of an md5 as ``uint64`` in
    byte ``order``), built in NumPy: the same strings as ``'c' || left(md5(…), 16)``."""
    m = len(digests)
    text = np.empty((m, 17), dtype=np.uint8)
    text[:, 0] = ord("c")
    raw = np.ascontiguousarray(digests, dtype=order).view(np.uint8).reshape(m, 8)
    text[:, 1:] = _HEX_PAIRS[raw].view(np.uint8)
    large = 17 * m >= 2**31 - 1
    offsets = np.arange(0, 17 * (m + 1), 17, dtype=np.int64 if large else np.int32)
    cls = pa.LargeStringArray if large else pa.StringArray
    return cls.from_buffers(m, pa.py_buffer(offsets), pa.py_buffer(text))


def _example(c: _Conflict) -> dict[str, Any]:
    return {
        "key_a": mask_key(c.key_a), "key_b": mask_key(c.key_b), "source": c.source,
        "observed_at": c.observed_at.isoformat() if c.observed_at else None,
        "kept_consumer_id_a": c.kept_a, "kept_consumer_id_b": c.kept_b, "reason": c.reason,
    }
