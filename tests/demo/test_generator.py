"""The demo brand generator (siyu.demo): files, determinism, realism targets, dirty rows, CLI."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from typer.testing import CliRunner

from siyu.demo import generate, small_brand
from siyu.demo.dirty import BAD_KEYS, dirty_count
from siyu.demo.links import SOURCES as LINK_SOURCES
from siyu.demo.output import file_schema
from siyu.demo.phrases import MESSAGE_FAMILIES
from siyu.schema import KEY_TYPES, TABLES

SMALL_ROWS = {
    "stores": 3, "guides": 22, "touchpoints": 38, "consumers": 2000, "identity_links": 3385,
}
CONFLICT_SOURCES = {"shared_device", "family_account", "member_merge"}
TS = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


# --- helpers ---------------------------------------------------------------------------------

def read(folder: Path, name: str, fmt: str = "parquet") -> list[dict]:
    path = folder / f"{name}.{fmt}"
    if fmt == "parquet":
        return pq.read_table(path).to_pylist()
    if fmt == "jsonl":
        return [json.loads(line) for line in path.read_text("utf-8").splitlines()]
    options = pacsv.ConvertOptions(column_types=file_schema(TABLES[name]),
                                   strings_can_be_null=True, quoted_strings_can_be_null=False)
    return pacsv.read_csv(path, convert_options=options).to_pylist()


def valid_time(value) -> bool:
    if not isinstance(value, str) or not TS.match(value):
        return False
    try:
        datetime.strptime(value, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return False
    return True


def normal_key(key: str) -> str | None:
    """The normalised key, or None when the key breaks the contract (§2)."""
    kind, sep, value = key.partition(":")
    if not sep or kind not in KEY_TYPES or not value:
        return None
    if kind == "phone":
        digits = re.sub(r"[\s-]", "", value)
        digits = re.sub(r"^(\+86|86)", "", digits)
        return f"phone:{digits}" if re.fullmatch(r"1\d{10}", digits) else None
    return key


def dirty_flags(name: str, rows: list[dict]) -> list[bool]:
    """Which rows break the import contract: an empty required column, a bad timestamp or key,
    negative money, or an id already seen earlier in the file."""
    table = TABLES[name]
    seen: set = set()
    flags = []
    for row in rows:
        bad = any(row[c] in (None, "") for c in table.required)
        for col in table.columns:
            value = row[col.name]
            if value in (None, ""):
                continue
            if col.type == "timestamp" and not valid_time(value):
                bad = True
            if col.type == "key" and normal_key(value) is None:
                bad = True
            if col.type == "money" and value < 0:
                bad = True
        ident = tuple(row[c] for c in table.id_columns)
        if table.id_columns and ident in seen:
            bad = True
        seen.add(ident)
        flags.append(bad)
    return flags


def clean(name: str, rows: list[dict]) -> list[dict]:
    return [r for r, bad in zip(rows, dirty_flags(name, rows), strict=True) if not bad]


def persons(links: list[dict], with_conflicts: bool = False) -> dict[str, int]:
    """Key → person (connected component of the identity links)."""
    ids: dict[str, int] = {}
    a, b = [], []
    for link in links:
        if link["source"] in CONFLICT_SOURCES and not with_conflicts:
            continue
        ka, kb = normal_key(link["key_a"]), normal_key(link["key_b"])
        a.append(ids.setdefault(ka, len(ids)))
        b.append(ids.setdefault(kb, len(ids)))
    graph = coo_matrix((np.ones(len(a)), (a, b)), shape=(len(ids), len(ids)))
    _, label = connected_components(graph, directed=False)
    return {k: int(label[i]) for k, i in ids.items()}


def person_of(key: str, who: dict[str, int]) -> object:
    k = normal_key(key)
    return who.get(k, k)


def sha(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


# --- fixtures --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def brand(tmp_path_factory) -> tuple[Path, dict[str, int]]:
    out = tmp_path_factory.mktemp("small")
    return out, small_brand(out, seed=1)


@pytest.fixture(scope="module")
def medium(tmp_path_factory) -> Path:
    """Big enough for stores with several groups (groups split at 400)."""
    out = tmp_path_factory.mktemp("medium")
    generate(out, consumers=30_000, days=180, seed=7)
    return out


# --- files and determinism -------------------------------------------------------------------

def test_every_table_is_one_file_with_the_schema_columns(brand):
    out, rows = brand
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{t}.parquet" for t in TABLES)
    for name, table in TABLES.items():
        schema = pq.read_schema(out / f"{name}.parquet")
        assert tuple(schema.names) == table.column_names
        assert schema.equals(file_schema(table))  # timestamps as strings, money as float64…
        assert pq.read_metadata(out / f"{name}.parquet").num_rows == rows[name]


def test_row_counts_are_reproducible(brand):
    _, rows = brand
    assert rows == SMALL_ROWS | {
        "relationships": 4515, "interactions": 4690, "orders": 1088, "order_items": 1651,
        "shares": 184, "reviews": 88, "coupons": 681, "consents": 1894, "surveys": 40,
    }


def test_same_seed_gives_identical_files_and_another_seed_different_ones(brand, tmp_path):
    out, _ = brand
    again, other = tmp_path / "again", tmp_path / "other"
    small_brand(again, seed=1)
    small_brand(other, seed=2)
    assert sha(again) == sha(out)
    first, second = sha(out), sha(other)
    assert all(first[name] != second[name] for name in first)


def test_output_does_not_depend_on_chunking(tmp_path, monkeypatch):
    """Chunks draw from their own generators: the first chunk's rows are the same whether or
    not other chunks follow."""
    import siyu.demo.chunks as chunks

    monkeypatch.setattr(chunks, "CHUNK_CONSUMERS", 1_000)
    one = generate(tmp_path / "one", consumers=1_000, days=30, seed=3)
    two = generate(tmp_path / "two", consumers=2_000, days=30, seed=3)
    assert two["consumers"] == 2_000 and one["consumers"] == 1_000
    a = pq.read_table(tmp_path / "one" / "orders.parquet")
    b = pq.read_table(tmp_path / "two" / "orders.parquet").slice(0, a.num_rows)
    assert a.equals(b)


# --- contract and dirty rows -----------------------------------------------------------------

def test_required_columns_are_filled_except_in_the_dirty_rows(brand):
    out, _ = brand
    dirty = total = 0
    kinds: Counter = Counter()
    for name, table in TABLES.items():
        rows = read(out, name)
        flags = dirty_flags(name, rows)
        if table.kind != "event":
            assert not any(flags), name
            continue
        dirty += sum(flags)
        total += len(rows)
        assert sum(flags) == dirty_count(len(rows) - sum(flags)), name  # the documented rate
        for row in clean(name, rows):
            assert all(row[c] not in (None, "") for c in table.required), (name, row)
        for row, bad in zip(rows, flags, strict=True):
            if bad and table.time_column and not valid_time(row[table.time_column]):
                kinds["timestamp"] += 1
            if bad and row.get("consumer_key") in BAD_KEYS:
                kinds["key"] += 1
    assert 0.003 <= dirty / total <= 0.008
    assert dirty == 71
    assert kinds["timestamp"] > 0 and kinds["key"] > 0


def test_dirty_rows_include_duplicates_and_negative_amounts(medium):
    orders = read(medium, "orders")
    ids = Counter(r["order_id"] for r in orders)
    dups = [oid for oid, n in ids.items() if n > 1 and oid]
    by_id = defaultdict(list)
    for r in orders:
        by_id[r["order_id"]].append(r)
    exact = sum(1 for oid in dups if by_id[oid][0] == by_id[oid][1])
    assert exact > 0 and len(dups) - exact > 0
    assert any(r["amount"] < 0 for r in orders)
    assert "" in ids


def test_keys_follow_the_contract_and_vary_by_channel(brand):
    out, _ = brand
    interactions = clean("interactions", read(out, "interactions"))
    types = Counter((r["field"], r["consumer_key"].split(":")[0]) for r in interactions)
    assert types[("guide", "wecom")] > 0.8 * sum(v for (f, _), v in types.items() if f == "guide")
    assert types[("mini_program", "openid")] > 0
    orders = clean("orders", read(out, "orders"))
    kinds = Counter(r["consumer_key"].split(":")[0] for r in orders)
    assert kinds["member"] > kinds["wecom"]
    keys = [r["consumer_key"] for r in read(out, "interactions")]
    assert any(k.startswith("phone:+86") or " " in k for k in keys)  # phones to normalise
    consumers = read(out, "consumers")
    assert len({r["consumer_key"] for r in consumers}) == 2000
    assert all(re.fullmatch(r"[\u4e00-\u9fff]{2,4}", r["name"]) for r in consumers)


# --- identity --------------------------------------------------------------------------------

def test_clean_links_never_join_two_phones_but_conflicting_links_do(brand):
    out, _ = brand
    links = read(out, "identity_links")
    assert sum(r["source"] in CONFLICT_SOURCES for r in links) == 4
    assert set(r["source"] for r in links) <= set(LINK_SOURCES)

    def phones_per_person(who):
        return max(Counter(p for k, p in who.items() if k.startswith("phone:")).values())

    assert phones_per_person(persons(links)) == 1
    assert phones_per_person(persons(links, with_conflicts=True)) >= 2
    who = persons(links)
    sizes = Counter(who.values())
    assert 1 <= min(sizes.values()) and max(sizes.values()) <= 4


# --- realism ---------------------------------------------------------------------------------

def test_groups_never_hold_more_than_400_members(medium):
    rels = clean("relationships", read(medium, "relationships"))
    events = defaultdict(list)
    for r in rels:
        if r["field"] == "group_chat":
            events[r["field_ref"]].append((r["occurred_at"], 1 if r["action"] == "start" else -1))
    peaks = {}
    for ref, evs in events.items():
        size = peak = 0
        for _, step in sorted(evs, key=lambda e: (e[0], e[1])):
            size += step
            peak = max(peak, size)
        peaks[ref] = peak
    assert max(peaks.values()) <= 400
    assert max(peaks.values()) >= 300
    normal_groups_per_store = Counter(ref.rsplit("-", 1)[0] for ref in peaks if "-n" in ref)
    assert max(normal_groups_per_store.values()) >= 2


def test_member_groups_are_small_but_sell_a_large_share(medium):
    touch = {r["field_ref"]: r for r in read(medium, "touchpoints")}
    rels = clean("relationships", read(medium, "relationships"))
    joins = Counter(touch[r["field_ref"]]["group_type"] for r in rels
                    if r["field"] == "group_chat" and r["action"] == "start")
    member_share = joins["member"] / sum(joins.values())
    orders = clean("orders", read(medium, "orders"))
    gmv = Counter()
    for r in orders:
        if r["field"] == "group_chat" and r["status"] == "paid":
            gmv[touch[r["field_ref"]]["group_type"]] += r["amount"]
    gmv_share = gmv["member"] / sum(gmv.values())
    assert 0.02 <= member_share <= 0.05
    assert 0.2 <= gmv_share <= 0.5


def test_sales_are_heavy_tailed(medium):
    who = persons(read(medium, "identity_links"))
    gmv = Counter()
    for r in clean("orders", read(medium, "orders")):
        if r["status"] == "paid":
            gmv[person_of(r["consumer_key"], who)] += r["amount"]
    values = sorted((v for v in gmv.values() if v > 0), reverse=True)
    top = values[: int(0.15 * len(values))]
    assert sum(top) / sum(values) >= 0.35


def test_orders_match_their_lines_coupons_and_margins(brand):
    out, _ = brand
    orders = clean("orders", read(out, "orders"))
    lines = defaultdict(float)
    for r in clean("order_items", read(out, "order_items")):
        lines[r["order_id"]] += r["quantity"] * r["unit_price"]
    face = {r["coupon_id"]: r["face_value"] for r in read(out, "coupons")}
    for r in orders:
        discount = face[r["coupon_id"]] if r["coupon_id"] else 0.0
        assert r["amount"] == pytest.approx(lines[r["order_id"]] - discount, abs=0.01)
    paid = [r for r in orders if r["amount"] > 0]
    margin = sum(r["gross_profit"] for r in paid) / sum(r["amount"] for r in paid)
    assert 0.4 <= margin <= 0.6
    refunded = sum(r["status"] == "refunded" for r in orders) / len(orders)
    assert 0.02 <= refunded <= 0.06
    assert any(r["amount"] == 0 for r in orders)
    assert sum(bool(r["coupon_id"]) for r in orders) > 0


def test_share_orders_fall_inside_and_outside_the_attribution_window(brand):
    out, _ = brand
    shares = {r["share_id"]: r for r in clean("shares", read(out, "shares"))}
    delays = []
    for r in clean("orders", read(out, "orders")):
        if r["share_id"] in shares:
            paid = datetime.strptime(r["paid_at"], "%Y-%m-%d %H:%M:%S")
            shared = datetime.strptime(shares[r["share_id"]]["occurred_at"], "%Y-%m-%d %H:%M:%S")
            delays.append(paid - shared)
    assert all(d > timedelta(0) for d in delays)
    inside = sum(d < timedelta(days=7) for d in delays)
    assert inside > 0 and len(delays) - inside > 0
    assert inside > len(delays) - inside


def test_chat_texts_cover_every_scenario_family(brand):
    out, _ = brand
    texts = {r["text"] for r in read(out, "interactions") if r["type"] == "message"}
    for family, phrases in MESSAGE_FAMILIES.items():
        assert texts & set(phrases), family
    assert any("用完了" in t for t in texts) and any("同事问" in t for t in texts)


def test_event_vocabularies(brand):
    out, _ = brand
    inter = clean("interactions", read(out, "interactions"))
    assert {r["type"] for r in inter} == set(TABLES["interactions"].column("type").values)
    views = [r for r in inter if r["type"] in ("view", "live_watch")]
    assert all(r["dwell_seconds"] > 0 and r["content_id"] for r in views)
    actions = Counter(r["action"] for r in clean("coupons", read(out, "coupons")))
    assert set(actions) == {"issued", "claimed", "redeemed", "expired"}
    consents = clean("consents", read(out, "consents"))
    assert {r["purpose"] for r in consents} == set(TABLES["consents"].column("purpose").values)
    assert 0 < sum(not r["granted"] for r in consents) < 0.1 * len(consents)
    reviews = clean("reviews", read(out, "reviews"))
    assert sum(r["rating"] >= 4 for r in reviews) > 0.7 * len(reviews)
    surveys = clean("surveys", read(out, "surveys"))
    assert {r["kind"] for r in surveys} == {"nps", "ces", "csat"}
    guides = read(out, "guides")
    assert any(g["status"] == "left" and g["left_at"] for g in guides)
    rels = clean("relationships", read(out, "relationships"))
    assert {"qr_code", "store", "referral", "live", "ads", "handover"} <= {r["source"] for r in rels}


# --- formats and CLI -------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_text_formats_hold_the_same_rows_as_parquet(brand, tmp_path, fmt):
    out, rows = brand
    assert small_brand(tmp_path, seed=1, fmt=fmt) == rows
    for name in ("orders", "interactions", "consumers"):
        text_rows = read(tmp_path, name, fmt)
        assert len(text_rows) == rows[name]
    for a, b in zip(read(out, "interactions"), read(tmp_path, "interactions", fmt),
                    strict=True):
        assert a == b
    for a, b in zip(read(out, "orders"), read(tmp_path, "orders", fmt), strict=True):
        assert a == b


def test_cli_generate_json(tmp_path):
    from siyu.cli import app

    result = CliRunner().invoke(app, ["generate", "--consumers", "300", "--days", "30",
                                      "--seed", "4", "--out", str(tmp_path), "--json",
                                      "--end", "2025-06-30"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    payload = json.loads(lines[0])
    assert payload["out"] == str(tmp_path) and payload["seconds"] >= 0
    assert set(payload["rows"]) == set(TABLES) and payload["rows"]["consumers"] == 300
    paid = [r["paid_at"] for r in clean("orders", read(tmp_path, "orders"))]
    assert max(paid) < "2025-07-01" and min(paid) >= "2025-06-01"
