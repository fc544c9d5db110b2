"""The OneID graph algorithms, free of any storage: connected components of the link graph in
bulk (SciPy) and the guarded union-find that splits the few components breaking the guard.

Nodes are dense integers ``0..n-1``; links are pairs of node numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

__all__ = ["components", "guard_violations", "oldest", "GuardedUnionFind", "NO_TIME"]

NO_TIME = np.iinfo(np.int64).max
"""``first_seen`` of a node never seen at a known time (sorts last)."""


def components(n: int, src: np.ndarray, dst: np.ndarray) -> tuple[int, np.ndarray]:
    """Connected components of the undirected graph on ``n`` nodes with edges ``src[i]–dst[i]``:
    ``(count, labels)`` where ``labels[v]`` is the component of node ``v`` (int32)."""
    if n == 0:
        return 0, np.zeros(0, dtype=np.int32)
    src = np.asarray(src, dtype=np.int32)
    dst = np.asarray(dst, dtype=np.int32)
    # SciPy loads on first use: every CLI command imports OneID, few resolve
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    # float64 weights: what connected_components works on (float32 would be copied)
    graph = csr_matrix((np.ones(len(src), dtype=np.float64), (src, dst)), shape=(n, n))
    count, labels = connected_components(graph, directed=False)
    return int(count), labels.astype(np.int32, copy=False)


def guard_violations(labels: np.ndarray, count: int, guard_codes: np.ndarray,
                     n_guard_types: int) -> np.ndarray:
    """Components holding more than one node of some guarded type.

    ``guard_codes[v]`` is the index of node ``v``'s type among the guarded types, or -1.
    Returns the sorted component numbers that break the guard.
    """
    bad = np.zeros(count, dtype=bool)
    for code in range(n_guard_types):
        per_comp = np.bincount(labels[guard_codes == code], minlength=count)
        bad |= per_comp > 1
    return np.flatnonzero(bad).astype(np.int32)


def oldest(labels: np.ndarray, count: int, first_seen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each component's node with the smallest ``first_seen`` (int64, :data:`NO_TIME` for
    unknown): ``(rep, tied)``. ``rep[c]`` is such a node (-1 for an empty component);
    ``tied`` lists every candidate node of the components where several nodes share the
    smallest time, for the caller to break the tie by key order.
    """
    smallest = np.full(count, NO_TIME, dtype=np.int64)
    np.minimum.at(smallest, labels, first_seen)
    cand = np.flatnonzero(first_seen == smallest[labels])
    cand_label = labels[cand]
    per_comp = np.bincount(cand_label, minlength=count)
    rep = np.full(count, -1, dtype=np.int64)
    rep[cand_label] = cand
    tied = cand[per_comp[cand_label] > 1]
    return rep, tied


class GuardedUnionFind:
    """Union-find that refuses a union joining two nodes of one guarded type.

    ``guards`` maps a node to its guarded type (nodes of unguarded types are absent). Feed links
    in the canonical order with :meth:`link`; it returns the clashing types (empty when the
    link merged or was already inside one set).
    """

    def __init__(self, nodes: Iterable[int], guards: dict[int, str]):
        self.parent: dict[int, int] = {v: v for v in nodes}
        self.size: dict[int, int] = dict.fromkeys(self.parent, 1)
        self.held: dict[int, dict[str, int]] = {
            v: {t: v} for v, t in guards.items() if v in self.parent
        }

    def find(self, v: int) -> int:
        parent = self.parent
        root = v
        while parent[root] != root:
            root = parent[root]
        while parent[v] != root:  # path compression
            parent[v], v = root, parent[v]
        return root

    def link(self, a: int, b: int) -> Sequence[str]:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return ()
        ha, hb = self.held.get(ra, {}), self.held.get(rb, {})
        clash = sorted(t for t in ha if t in hb)
        if clash:
            return clash
        if self.size[ra] < self.size[rb]:
            ra, rb, ha, hb = rb, ra, hb, ha
        self.parent[rb] = ra
        self.size[ra] += self.size[rb]
        if hb:
            self.held[ra] = {**ha, **hb}
            self.held.pop(rb, None)
        return ()

    def roots(self) -> dict[int, int]:
        """Every node's set representative."""
        return {v: self.find(v) for v in self.parent}
