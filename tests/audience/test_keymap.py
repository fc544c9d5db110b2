"""Event windows counted through the index's key map (siyu.audience.keymap): a person's events
under several keys add up, a key OneID has not seen counts nowhere, sums are exact to the
cent, a day or an order counts once — always the warehouse's answer."""

from __future__ import annotations

import csv
import json
from datetime import date

import pytest

from siyu.audience import count, parse
from siyu.audience.compile import compile_audience
from siyu.audience.index import MANIFEST, build_index, evaluate, ids_to_bitmap, index_dir
from siyu.ingest import import_files
from siyu.models.sources import Sources
from siyu.workspace import Workspace
from tests.models.builder import Brand

AS_OF = date(2025, 3, 31)
KEYED = "events read in the warehouse, matched through the index's key map"


def brand() -> Brand:
    b = Brand()
    # p1: two keys, one person; the same day under both keys, two visits of the mini program
    b.link("member:p1", "wecom:p1")
    b.order("member:p1", "2025-03-10 10:00", 10.10, order_id="o1")
    b.order("wecom:p1", "2025-03-10 18:00", 20.20, order_id="o2")
    b.add("order_items", order_id="o1", sku="A", category="面霜", quantity=1, unit_price=4.05)
    b.add("order_items", order_id="o1", sku="B", category="面霜", quantity=2, unit_price=3.02)
    b.add("order_items", order_id="o2", sku="C", category="精华", quantity=1, unit_price=20.20)
    for key in ("member:p1", "wecom:p1"):
        b.add("interactions", consumer_key=key, field="mini_program", type="visit",
              occurred_at="2025-03-20 10:00")
    # p2: two purchase days, one visit elsewhere, a refunded order (counts nowhere)
    b.order("member:p2", "2025-03-05 10:00", 5, order_id="o3")
    b.order("member:p2", "2025-03-25 10:00", 5, order_id="o4")
    b.order("member:p2", "2025-03-26 10:00", 99, order_id="o5", status="refunded")
    b.add("interactions", consumer_key="member:p2", field="official_account", type="visit",
          occurred_at="2025-03-20 10:00")
    # p3: nothing in the window (an order long before it)
    b.order("member:p3", "2024-06-01 10:00", 7, order_id="o6")
    return b


@pytest.fixture(scope="module")
def kws(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SIYU_LANG", "en")
        mp.setenv("SIYU_ID_SALT", "test-salt")
        tmp = tmp_path_factory.mktemp("keymap")
        w = Workspace.init(tmp / "ws", brand_name="测试品牌")
        brand().load(w, tmp)
        w.stats = build_index(w, AS_OF)
        # imported after OneID and the index: p1's known key counts, a new key does not
        late = tmp / "late.csv"
        with open(late, "w", newline="", encoding="utf-8") as f:
            wr = csv.writer(f)
            wr.writerow(["order_id", "consumer_key", "paid_at", "amount", "status"])
            wr.writerow(["o7", "wecom:p1", "2025-03-28 10:00", "1.01", "paid"])
            wr.writerow(["o8", "member:p9", "2025-03-28 10:00", "500", "paid"])
        assert import_files(w, "orders", [late]).loaded == 2
        yield w
        w.close()


def warehouse(ws, text):
    return ids_to_bitmap(ws, compile_audience(Sources.of(ws), parse(text), AS_OF))


def test_the_index_holds_every_key(kws):
    assert kws.stats["keys"] == 4  # member:p1, wecom:p1, member:p2, member:p3


@pytest.mark.parametrize("text, n", [
    ("orders(last 401d) >= 3", 1),  # p1: o1, o2 and the late o7 under a known key
    ("orders(last 30d) >= 4", 0),
    ("orders(last 401d) = 2", 1),  # p2 (its refund counts nowhere)
    ("orders(last 401d) = 1", 1),  # p3 (June 2024)
    ("purchase_days(last 401d) = 2", 2),  # p1: 10th (under both keys) and 28th; p2: 5th, 25th
    ("purchase_days(last 401d) = 1", 1),  # p3
    ("purchase_days(last 30d) >= 4", 0),
    ("gmv(last 30d) >= 31.31", 1),  # p1: 10.10 + 20.20 + 1.01, to the cent
    ("gmv(last 30d) > 31.31", 0),
    ("gmv(last 30d) < 10", 1),  # p3, without orders in the window
    ("gmv(last 30d) = 10", 1),  # p2
    ('orders(last 30d, category = "面霜") = 1', 1),  # o1 holds two matching lines: once
    ('gmv(last 30d, category = "面霜") = 10.09', 1),  # 4.05 + 2 × 3.02
    ('visits(last 30d, field = "mini_program") >= 2', 1),  # p1, one visit per key
    ('visits(last 30d, field = "mini_program") < 1', 2),  # p2 and p3
    ('visits(last 30d, field = "official_account") != 0', 1),
])
def test_keyed_counts_are_the_warehouse_counts(kws, text, n):
    bm, ex = evaluate(kws, parse(text), AS_OF)
    assert ex.terms == [{"term": text, "from": "warehouse", "why": KEYED}]
    assert len(bm) == n
    assert bm == warehouse(kws, text)


def test_with_stale_recency(kws):
    """The late import made the recency bitmaps stale (the warehouse joins that term); the
    key map reads the events live and stays in use."""
    text = 'orders(last 30d) >= 1 and not visits(last 30d, field = "mini_program") >= 1'
    got = count(kws, text, AS_OF, explain=True)
    assert got["count"] == 1  # p2
    assert [t["why"] for t in got["terms"]] == ["index stale (events)", KEYED]


def test_without_a_usable_key_map_the_warehouse_joins(kws):
    """An index built by another DuckDB (its hash may differ) or without a key map: the term
    is joined in the warehouse, with the same answer."""
    path = index_dir(kws) / MANIFEST
    saved = path.read_text(encoding="utf-8")
    try:
        m = json.loads(saved)
        m["keys"]["duckdb"] = "0.0.0"
        path.write_text(json.dumps(m), encoding="utf-8")
        text = "gmv(last 30d) >= 31.31"
        bm, ex = evaluate(kws, parse(text), AS_OF)
        assert bm is None and ex.terms[0]["why"].endswith("(the index holds no key map)")
        assert count(kws, text, AS_OF)["count"] == 1
    finally:
        path.write_text(saved, encoding="utf-8")


def test_recency_through_the_key_map_equals_the_join(kws, tmp_path):
    """The index build matches events to ordinals through the key map; without one (two keys
    sharing a hash) it joins the consumer ids — the recency bitmaps are the same."""
    from siyu.audience import keymap
    from siyu.audience.index import ORDINALS, _recency, _Writer
    from siyu.models.sources import Sources

    _, km = keymap.write_keymap(kws, tmp_path / "keys.bin", ORDINALS)

    def contents(section, path):
        got = {}
        data = path.read_bytes()
        from pyroaring import BitMap

        for kind, by_k in section.items():
            for k, ages in by_k.items():
                for age, ref in ages:
                    got[(kind, k, age)] = list(BitMap.deserialize(data[ref[1]:ref[1] + ref[2]]))
        return got

    a, b = _Writer(tmp_path / "a.bin"), _Writer(tmp_path / "b.bin")
    with_map = _recency(kws, Sources.of(kws), AS_OF, a, km)
    joined = _recency(kws, Sources.of(kws), AS_OF, b, None)
    a.close()
    b.close()
    got, want = contents(with_map, a.path), contents(joined, b.path)
    assert got == want and sum(len(v) for v in want.values()) > 0
    assert {k[0] for k in want} >= {"orders", "visits", "purchase_days"}
