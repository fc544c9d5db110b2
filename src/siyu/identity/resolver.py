"""OneID resolution (DOMAIN §3): keys → consumers, in bulk.

1. DuckDB numbers every distinct key (``key_seen``, plus link keys missing from it) ``0..n-1``
   and hands back each node's first_seen and guard code as NumPy arrays.
2. The link endpoints come back as NumPy arrays; SciPy finds the connected components.
3. Components holding two keys of one guarded type (``settings.oneid_guard_types``) are re-built
   by a deterministic union-find over their links in canonical order (observed_at, NULLs last;
   smaller key; larger key; source): a link that would join two guarded keys is refused and
   reported as a conflict, so earlier links win.
4. ``consumer_id`` = ``'c'`` + the first 16 hex digits of md5(``settings.id_salt`` + the component's oldest key: least
   first_seen, NULLs last, ties by key order). The result depends only on the keys, times and
   links, never on row order or on the node numbering.
5. :mod:`siyu.identity.store` writes the map, the conflicts and the id-change history in one
   transaction.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa

from siyu.identity.changes import CHANGES_TEMP, DELTA_TEMP
from siyu.identity.graph import NO_TIME, GuardedUnionFind, components, guard_violations, oldest
from siyu.identity.keys import mask_key
from siyu.identity.runs import check_run_id, new_run_id, record_end, record_start
from siyu.identity.store import NEW_CONFLICTS, NEW_MAP, write_result

__all__ = ["ResolveReport", "resolve", "MAX_CONFLICT_EXAMPLES"]

MAX_CONFLICT_EXAMPLES = 20
_TEMPS = ("_oneid_nodes", "_oneid_badkeys", CHANGES_TEMP, DELTA_TEMP)
_VIEWS = ("_oneid_bad", "_oneid_tied", "_oneid_reps", "_oneid_newmap", "_oneid_conflicts")
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
            node_comp, cid_by_comp = self._consumer_ids(labels, count, first_seen)
            del labels, first_seen
            self._stage("ids", "write")
            self._register_map(node_comp, cid_by_comp)
            self._register_conflicts(conflicts, node_comp, cid_by_comp)
            del node_comp, cid_by_comp
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
        -1)."""
        source = "SELECT key, first_seen FROM key_seen"
        if with_links:
            source += (" UNION ALL SELECT key_a, NULL FROM identity_links"
                       " UNION ALL SELECT key_b, NULL FROM identity_links")
        code = " ".join(f"WHEN starts_with(key, '{t}:') THEN {i}"
                        for i, t in enumerate(self.guard_types))
        code = f"CASE {code} ELSE -1 END" if code else "-1"
        self.con.execute(f"""
            CREATE OR REPLACE TEMP TABLE _oneid_nodes AS
            SELECT (row_number() OVER () - 1)::INTEGER AS id, key, first_seen,
                   ({code})::TINYINT AS code
            FROM (SELECT key, min(first_seen) AS first_seen FROM ({source}) GROUP BY key)""")
        res = self.con.sql(f"""
            SELECT id, coalesce(epoch_us(first_seen), {NO_TIME}) AS fs, code
            FROM _oneid_nodes""").fetchnumpy()
        n = len(res["id"])
        first_seen = np.empty(n, dtype=np.int64)
        codes = np.empty(n, dtype=np.int8)
        first_seen[res["id"]] = res["fs"]
        codes[res["id"]] = res["code"]
        return n, first_seen, codes

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

    def _consumer_ids(self, labels: np.ndarray, count: int, first_seen: np.ndarray):
        """Each node's consumer number and each consumer's id (Arrow): the component's
        oldest key by first_seen, ties broken by key order in DuckDB."""
        con = self.con
        rep, tied = oldest(labels, count, first_seen)
        if len(tied):
            con.register("_oneid_tied", pa.table({"id": tied.astype(np.int32),
                                                  "comp": labels[tied]}))
            res = con.sql("""SELECT t.comp, arg_min(t.id, n.key) AS id
                             FROM _oneid_tied t JOIN _oneid_nodes n ON n.id = t.id
                             GROUP BY t.comp""").fetchnumpy()
            rep[res["comp"]] = res["id"]
        used = np.flatnonzero(rep >= 0)  # labels emptied by the guard drop out
        index_of_label = np.full(count, -1, dtype=np.int32)
        index_of_label[used] = np.arange(len(used), dtype=np.int32)
        node_comp = index_of_label[labels]
        sizes = np.bincount(node_comp, minlength=len(used))
        r = self.report
        r.consumers = len(used)
        r.multi_key_consumers = int((sizes >= 2).sum())
        r.largest_component = int(sizes.max()) if len(sizes) else 0
        con.register("_oneid_reps", pa.table({"id": rep[used].astype(np.int32)}))
        res = con.sql("""
            SELECT n.id, 'c' || left(md5($salt || n.key), 16) AS consumer_id
            FROM _oneid_nodes n SEMI JOIN _oneid_reps r ON n.id = r.id""",
            params={"salt": self.salt}).to_arrow_table()
        pos = node_comp[res["id"].to_numpy()]
        inv = np.empty(len(pos), dtype=np.int64)
        inv[pos] = np.arange(len(pos))
        return node_comp, res["consumer_id"].take(pa.array(inv))

    def _register_map(self, node_comp: np.ndarray, cid_by_comp) -> None:
        nodes = self.con.sql("SELECT id, key, first_seen FROM _oneid_nodes").to_arrow_table()
        cids = cid_by_comp.take(pa.array(node_comp[nodes["id"].to_numpy()]))
        self.con.register("_oneid_newmap", pa.table({
            "key": nodes["key"], "consumer_id": cids, "first_seen": nodes["first_seen"]}))

    def _register_conflicts(self, conflicts: list[_Conflict], node_comp, cid_by_comp) -> None:
        for c in conflicts:
            c.kept_a = cid_by_comp[int(node_comp[c.node_a])].as_py()
            c.kept_b = cid_by_comp[int(node_comp[c.node_b])].as_py()
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
        for view in _VIEWS:
            try:
                con.unregister(view)
            except Exception:  # pragma: no cover - not registered
                pass
        for t in _TEMPS:
            con.execute(f"DROP TABLE IF EXISTS {t}")
        for t in (NEW_MAP, NEW_CONFLICTS):
            con.execute(f'DROP TABLE IF EXISTS "{t}"')


def _example(c: _Conflict) -> dict[str, Any]:
    return {
        "key_a": mask_key(c.key_a), "key_b": mask_key(c.key_b), "source": c.source,
        "observed_at": c.observed_at.isoformat() if c.observed_at else None,
        "kept_consumer_id_a": c.kept_a, "kept_consumer_id_b": c.kept_b, "reason": c.reason,
    }
