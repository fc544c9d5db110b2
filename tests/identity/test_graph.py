"""The storage-free graph pieces: components, guard check, oldest node, guarded union-find."""

from __future__ import annotations

import numpy as np

from siyu.identity.graph import (
    NO_TIME,
    GuardedUnionFind,
    components,
    guard_violations,
    oldest,
)


def test_components_of_a_chain_and_an_isolated_node():
    count, labels = components(5, np.array([0, 1, 2]), np.array([1, 2, 3]))
    assert count == 2
    assert len(set(labels[:4])) == 1 and labels[4] != labels[0]


def test_components_of_nothing():
    count, labels = components(0, np.array([], dtype=np.int32), np.array([], dtype=np.int32))
    assert count == 0 and len(labels) == 0


def test_guard_violations_finds_components_with_two_of_a_type():
    labels = np.array([0, 0, 1, 1, 2])
    codes = np.array([0, 0, 0, 1, -1], dtype=np.int8)  # comp 0: two phones
    assert guard_violations(labels, 3, codes, 2).tolist() == [0]


def test_oldest_reports_ties_and_unknown_times_last():
    labels = np.array([0, 0, 1, 1, 2])
    fs = np.array([5, 3, 7, 7, NO_TIME], dtype=np.int64)
    rep, tied = oldest(labels, 3, fs)
    assert rep[0] == 1 and rep[2] == 4
    assert sorted(tied.tolist()) == [2, 3]


def test_guarded_union_find_refuses_second_phone():
    uf = GuardedUnionFind([0, 1, 2, 3], {0: "phone", 2: "phone"})
    assert uf.link(0, 1) == ()
    assert uf.link(1, 2) == ["phone"]
    assert uf.link(2, 3) == ()
    assert uf.link(0, 1) == ()  # already together
    roots = uf.roots()
    assert roots[0] == roots[1] and roots[2] == roots[3] and roots[0] != roots[2]
