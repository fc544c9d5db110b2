"""OneID's bulk path on a few thousand keys: the node table and the consumer ids come back
from DuckDB in many Arrow chunks, most consumers' oldest key is decided by key order, some
link keys are missing from key_seen — and the map still equals the plain reference."""

from __future__ import annotations

import random

import pytest

from siyu.identity import resolve

from .helpers import add_keys, add_links, cid, conflicts, id_map
from .test_properties import GUARDED, reference

TYPES = ("phone", "member", "unionid", "openid", "wecom")


def brand(seed: int, consumers: int = 600):
    """Keys (first seen on one of a few days, so most consumers hold ties; some unknown) and
    links chaining each consumer's keys, plus cross links some of which the guard refuses."""
    rng = random.Random(seed)
    keys: dict[str, int | None] = {}
    links: list[tuple] = []
    owners: list[list[str]] = []
    for i in range(consumers):
        mine = [f"{t}:{i:05d}{rng.choice('abcxyz')}" for t in rng.sample(TYPES, rng.randint(1, 4))]
        for k in mine:
            keys[k] = rng.choice([None, 0, 1, 1, 2])
        for a, b in zip(mine, mine[1:], strict=False):
            links.append((a, b, rng.choice([None, 3, 4]), rng.choice("ab")))
        owners.append(mine)
    for _ in range(consumers // 5):
        a, b = rng.sample(owners, 2)
        links.append((rng.choice(a), rng.choice(b), rng.choice([None, 5, 6]), "x"))
    # a few links to keys no import registered
    for i in range(consumers // 50):
        links.append((rng.choice(owners[i]), f"openid:only-in-links-{i}", 7, "y"))
    return keys, links


@pytest.mark.parametrize("batch", [7, 1_000_000])
def test_bulk_map_equals_the_reference(ws, monkeypatch, batch):
    monkeypatch.setattr("siyu.identity.resolver.ARROW_BATCH", batch)
    keys, links = brand(seed=batch)
    add_keys(ws, keys)
    add_links(ws, links)
    r = resolve(ws)
    m = id_map(ws)
    assert m == reference(keys, links, GUARDED)
    assert r.keys == len(m) and r.consumers == len(set(m.values()))
    assert r.conflicts > 0
    for key_a, key_b, *_, kept_a, kept_b, _reason in conflicts(ws):
        assert (kept_a, kept_b) == (m[key_a], m[key_b])


def test_nothing_is_left_behind(ws):
    keys, links = brand(seed=3, consumers=50)
    add_keys(ws, keys)
    add_links(ws, links)
    resolve(ws)
    resolve(ws)  # the second run compares with the first map
    con = ws.warehouse.raw
    left = con.execute("""SELECT table_name FROM duckdb_tables() WHERE table_name LIKE '%oneid%'
                          UNION ALL
                          SELECT view_name FROM duckdb_views() WHERE view_name LIKE '%oneid%'
                          """).fetchall()
    assert left == []


def test_consumer_id_text_is_md5_hex_on_both_routes():
    import hashlib

    import duckdb

    from siyu.identity.resolver import _DIGEST_FAST, _DIGEST_HEX, consumer_id_strings

    con = duckdb.connect()
    keys = [f"k{i}:{'x' * (i % 40)}" for i in range(500)] + ["phone:13800138000", "中文:键"]
    con.execute("CREATE TABLE k AS SELECT unnest($k) AS key", {"k": keys})
    want = {k: "c" + hashlib.md5(("salt" + k).encode()).hexdigest()[:16] for k in keys}
    for sql, order in ((_DIGEST_FAST, "<u8"), (_DIGEST_HEX, ">u8")):
        res = con.execute(f"SELECT key, {sql.format(x='$s || key')} AS d FROM k",
                          {"s": "salt"}).fetchnumpy()
        got = consumer_id_strings(res["d"], order).to_pylist()
        assert dict(zip(res["key"].tolist(), got, strict=True)) == want


def test_the_hex_route_when_md5_number_differs(ws, monkeypatch):
    # another DuckDB whose md5_number puts other bytes first: the probe sends ids the hex way
    monkeypatch.setattr("siyu.identity.resolver._DIGEST_FAST",
                        "(md5_number({x}) >> 64)::UBIGINT")
    keys, links = brand(seed=5, consumers=80)
    add_keys(ws, keys)
    add_links(ws, links)
    resolve(ws)
    assert id_map(ws) == reference(keys, links, GUARDED)


def test_key_prefixes_never_contradict_key_order():
    import numpy as np
    import pyarrow as pa

    from siyu.identity.resolver import _key_prefixes

    rng = random.Random(1)
    alphabet = ["a", "b", "z", ":", "0", "9", "é", "中", "\x7f", "~"]
    keys = ["", "a", "ab", "abcdefgh", "abcdefghi", "abcdefgh\x00", "phone:13800138000",
            "phone:1380013800", "中文键", "中文"]
    keys += ["".join(rng.choices(alphabet, k=rng.randint(0, 12))) for _ in range(400)]
    for cut in ([], [3, 50, 211], list(range(1, len(keys)))):  # one chunk, a few, one per key
        bounds = [0, *cut, len(keys)]
        chunks = [pa.array(keys[a:b], pa.string()) for a, b in zip(bounds, bounds[1:],
                                                                    strict=False)]
        sliced = pa.array(["pad", *keys], pa.string()).slice(1)  # a chunk with an offset
        for column in (pa.chunked_array(chunks, pa.string()), pa.chunked_array([sliced]),
                       pa.chunked_array([pa.array(keys, pa.large_string())])):
            ids = np.array(sorted(rng.sample(range(len(keys)), 200)))
            pre = _key_prefixes(column, ids).tolist()
            for i, a in zip(ids.tolist(), pre, strict=True):
                for j, b in zip(ids.tolist(), pre, strict=True):
                    if a < b:
                        assert keys[i].encode() < keys[j].encode()


def test_ties_on_the_leading_bytes_go_to_duckdb(ws):
    # same time, same first 8 bytes: only the whole key decides
    add_keys(ws, {"openid:o-long-b": 1, "openid:o-long-a": 1, "wecom:w": 1, "phone:1": 2})
    add_links(ws, [("openid:o-long-b", "wecom:w", 3), ("openid:o-long-a", "wecom:w", 3),
                   ("phone:1", "wecom:w", 3)])
    resolve(ws)
    assert set(id_map(ws).values()) == {cid("openid:o-long-a")}
