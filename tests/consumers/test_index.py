"""The consumer lookup index (siyu.consumers.index): the 360° view read through it equals the
view read from the tables, before and after new imports, OneID runs and changes the index
cannot see."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from siyu.consumers import profile
from siyu.consumers.index import STATE, Finder, build_index, drop_index, index_status
from siyu.identity import resolve
from siyu.ingest import import_files
from siyu.workspace import Workspace
from tests.identity.helpers import cid
from tests.ingest.helpers import write_csv

NOW = datetime(2024, 6, 1, tzinfo=UTC)
PHONE = "phone:13812341234"

FILES = {
    "consumers": (["consumer_key", "name", "city", "registered_at"], [
        [PHONE, "李雷", "上海", "2023-01-01 10:00:00"],
        ["member:M1", "李雷雷", "杭州", ""],
        ["member:M9", "韩梅梅", "北京", ""]]),
    "identity_links": (["key_a", "key_b", "source", "observed_at"], [
        [PHONE, "member:M1", "crm", "2024-01-01 08:00:00"],
        ["member:M1", "unionid:u1", "crm", "2024-01-02 08:00:00"]]),
    "relationships": (["event_id", "consumer_key", "field", "action", "occurred_at",
                       "field_ref", "source"], [
        ["r1", "member:M1", "membership", "start", "2024-01-05 08:00:00", "", "store"],
        ["r2", "unionid:u1", "group_chat", "start", "2024-01-06 08:00:00", "g1", "qr_code"],
        ["r3", "unionid:u1", "group_chat", "end", "2024-02-06 08:00:00", "g1", ""],
        ["r4", PHONE, "guide", "start", "2024-03-01 08:00:00", "gd1", "store"],
        ["r5", "member:M9", "membership", "start", "2024-01-05 08:00:00", "", "store"]]),
    "orders": (["order_id", "consumer_key", "paid_at", "amount", "status"], [
        ["o1", PHONE, "2024-01-10 10:00:00", "100.50", "paid"],
        ["o2", "member:M1", "2024-02-10 10:00:00", "60", "refunded"],
        ["o3", "unionid:u1", "2024-03-10 23:30:00", "19.90", "paid"],
        ["o4", "member:M9", "2024-04-10 10:00:00", "999", "paid"],
        ["o5", PHONE, "2024-07-01 10:00:00", "5", "paid"]]),  # after NOW: left out
    "interactions": (["event_id", "consumer_key", "field", "type", "occurred_at"], [
        ["i1", "unionid:u1", "group_chat", "message", "2024-04-01 08:00:00"],
        ["i2", "member:M1", "mini_program", "visit", "2024-04-02 08:00:00"],
        ["i3", PHONE, "mini_program", "visit", "2024-04-03 08:00:00"],
        ["i4", "member:M9", "mini_program", "visit", "2024-05-30 08:00:00"]]),
    "shares": (["share_id", "consumer_key", "occurred_at"], [
        ["s1", "unionid:u1", "2024-04-20 08:00:00"]]),
    "reviews": (["review_id", "consumer_key", "rating", "occurred_at"], [
        ["v1", "member:M1", "5", "2024-05-02 08:00:00"]]),
    "consents": (["event_id", "consumer_key", "purpose", "granted", "occurred_at", "channel"], [
        ["c1", PHONE, "marketing", "true", "2024-01-01 08:00:00", "sms"],
        ["c2", "member:M1", "marketing", "false", "2024-02-01 08:00:00", "sms"]]),
}


def load(ws, tmp_path, table: str, header: list[str], rows: list[list], name: str = ""):
    path = write_csv(tmp_path / f"{table}{name}.csv", header, rows)
    r = import_files(ws, table, [path])
    assert r.rejected == 0 and r.loaded == len(rows), r


@pytest.fixture
def brand(ws, tmp_path):
    for table, (header, rows) in FILES.items():
        load(ws, tmp_path, table, header, rows)
    resolve(ws)
    return ws


def scan(ws, key: str) -> dict:
    """The view read from the tables alone (a finder that never uses the index)."""

    class NoIndex(Finder):
        def usable(self, ix):
            return None

    return profile(ws, key, now=NOW, finder=NoIndex(ws))


def usable(ws) -> dict[str, tuple[bool, bool]]:
    return {t["table"].removeprefix("consumer_index_"): (t["usable"], t["reads_new_rows"])
            for t in index_status(ws)}


def test_the_view_through_the_index_equals_the_tables(brand):
    before = profile(brand, PHONE, now=NOW)
    report = build_index(brand)
    assert report.tables["consumer_index_interactions"] == 4
    assert report.tables["consumer_index_identity_map"] == 4  # phone, M1, u1, M9
    assert all(u == (True, False) for u in usable(brand).values()), usable(brand)
    got = profile(brand, PHONE, now=NOW)
    assert got == before == scan(brand, PHONE)
    assert got["consumer_id"] == cid(PHONE)
    assert [k["type"] for k in got["keys"]] == ["phone", "member", "unionid"]
    assert got["orders"] == {"count": 3, "paid": 2, "gmv": 120.4,
                             "first_order_at": "2024-01-10T10:00:00+08:00",
                             "last_order_at": "2024-03-10T23:30:00+08:00"}
    assert got["interactions"] == {"message": 1, "visit": 2}
    assert got["last_activity_at"] == "2024-05-02T08:00:00+08:00"  # the review
    assert [(r["field"], r["status"]) for r in got["relationships"]] == [
        ("group_chat", "ended"), ("guide", "active"), ("membership", "active")]
    assert got["attributes"]["name"] == "李雷雷"  # the latest consumers row
    # the same consumer by its id and by another key
    assert profile(brand, cid(PHONE), now=NOW)["keys"] == got["keys"]
    assert profile(brand, "unionid:u1", now=NOW)["orders"] == got["orders"]


def test_rows_imported_after_the_index_are_read_from_the_table(brand, tmp_path):
    build_index(brand)
    load(brand, tmp_path, "interactions", ["event_id", "consumer_key", "field", "type",
                                           "occurred_at"],
         [["i9", "member:M1", "mini_program", "click", "2024-05-31 08:00:00"],
          ["i10", "member:M9", "mini_program", "visit", "2024-05-31 09:00:00"]], name="-2")
    load(brand, tmp_path, "orders", ["order_id", "consumer_key", "paid_at", "amount"],
         [["o9", "unionid:u1", "2024-05-20 10:00:00", "30"]], name="-2")
    u = usable(brand)
    assert u["interactions"] == u["orders"] == (True, True)
    assert u["relationships"] == (True, False)
    got = profile(brand, PHONE, now=NOW)
    assert got == scan(brand, PHONE)
    assert got["interactions"] == {"click": 1, "message": 1, "visit": 2}
    assert (got["orders"]["count"], got["orders"]["gmv"]) == (4, 150.4)
    assert got["last_activity_at"] == "2024-05-31T08:00:00+08:00"


def test_a_table_changed_outside_the_importer_is_scanned(brand):
    build_index(brand)
    brand.warehouse.raw.execute("DELETE FROM orders WHERE order_id = 'o3'")
    assert usable(brand)["orders"] == (False, False)
    got = profile(brand, PHONE, now=NOW)
    assert got == scan(brand, PHONE)
    assert (got["orders"]["count"], got["orders"]["gmv"]) == (2, 100.5)
    brand.warehouse.raw.execute(
        "INSERT INTO interactions (event_id, consumer_key, field, type, occurred_at) "
        "VALUES ('x1', 'member:M1', 'app', 'visit', TIMESTAMPTZ '2024-05-01 00:00:00+00')")
    assert usable(brand)["interactions"] == (False, False)
    assert profile(brand, PHONE, now=NOW)["interactions"] == {"message": 1, "visit": 3}


def test_a_later_oneid_run_retires_the_identity_index(brand, tmp_path):
    build_index(brand)
    load(brand, tmp_path, "interactions", ["event_id", "consumer_key", "field", "type",
                                           "occurred_at"],
         [["i20", "unionid:u9", "app", "like", "2024-05-01 08:00:00"]], name="-2")
    load(brand, tmp_path, "identity_links", ["key_a", "key_b", "source", "observed_at"],
         [["member:M9", "unionid:u9", "crm", "2024-05-01 08:00:00"]], name="-2")
    resolve(brand)
    u = usable(brand)
    assert u["identity_map"] == u["identity_map_by_id"] == (False, False)
    assert u["interactions"] == (True, True)
    got = profile(brand, "unionid:u9", now=NOW)
    assert got == scan(brand, "unionid:u9")
    assert [k["type"] for k in got["keys"]] == ["member", "unionid"]
    assert got["interactions"] == {"like": 1, "visit": 1} and got["orders"]["count"] == 1


def test_an_index_of_another_engine_or_definition_is_not_used(brand):
    """Built by another DuckDB (its hash differs) or by a siyu that copied other columns."""
    import duckdb

    build_index(brand)
    con = brand.warehouse.raw
    con.execute(f"UPDATE {STATE} SET engine = '0.0.1/' || split_part(engine, '/', 2)")
    assert not any(u for u, _ in usable(brand).values())
    assert profile(brand, PHONE, now=NOW) == scan(brand, PHONE)
    build_index(brand)
    con.execute("ALTER TABLE consumer_index_orders DROP COLUMN share_id")
    con.execute(f"UPDATE {STATE} SET engine = ? WHERE name = 'consumer_index_orders'",
                [duckdb.__version__])  # what an older build wrote
    assert usable(brand)["orders"] == (False, False)
    assert profile(brand, PHONE, now=NOW) == scan(brand, PHONE)


def test_drop_and_unknown_keys(brand):
    from siyu.identity import UnknownKey

    build_index(brand)
    with pytest.raises(UnknownKey):
        profile(brand, "member:NOPE", now=NOW)
    assert len(drop_index(brand)) == 10
    assert index_status(brand) == [] and drop_index(brand) == []
    assert profile(brand, PHONE, now=NOW) == scan(brand, PHONE)


def test_the_cli_builds_reports_and_drops(brand, cli):
    home = str(brand.home)
    brand.close()
    built = cli.json("consumer", "index", "--home", home)
    assert built["tables"]["consumer_index_orders"] == 5 and built["rows"] == 29
    status = cli.json("consumer", "index", "--status", "--home", home)
    assert [t["usable"] for t in status["tables"]] == [True] * 10
    shown = cli.json("consumer", "show", PHONE, "--home", home)
    assert shown["orders"]["count"] == 4  # o5 too: now is after it
    assert len(cli.json("consumer", "index", "--drop", "--home", home)["dropped"]) == 10


EVENTS = st.lists(st.tuples(st.sampled_from([PHONE, "member:M1", "unionid:u1", "member:M9"]),
                            st.sampled_from(["visit", "click", "message"]),
                            st.integers(0, 200), st.booleans()),
                  min_size=1, max_size=12)


@settings(max_examples=8, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=EVENTS)
def test_any_split_of_rows_before_and_after_the_index_reads_the_same(tmp_path_factory, events):
    """Interactions imported partly before and partly after the index (``after``): the view
    through the index equals the view from the tables, and counts every row."""
    from datetime import timedelta

    tmp = tmp_path_factory.mktemp("split")
    ws = Workspace.init(tmp / "ws", brand_name="t")
    try:
        for table in ("consumers", "identity_links"):
            load(ws, tmp, table, *FILES[table])
        resolve(ws)
        header = ["event_id", "consumer_key", "field", "type", "occurred_at"]
        rows = [[f"e{i}", k, "app", t,
                 (datetime(2024, 1, 1) + timedelta(days=d)).strftime("%Y-%m-%d %H:%M:%S"), a]
                for i, (k, t, d, a) in enumerate(events)]
        first = [r[:5] for r in rows if not r[5]]
        later = [r[:5] for r in rows if r[5]]
        if first:
            load(ws, tmp, "interactions", header, first)
        build_index(ws)
        if later:
            load(ws, tmp, "interactions", header, later, name="-2")
        now = datetime(2024, 6, 1, tzinfo=UTC)
        for key in (PHONE, "member:M9"):
            f = Finder(ws)
            got = profile(ws, key, now=now, finder=f)
            assert f.usable(f_ix("interactions")) is not None
            assert got == scan(ws, key)
            # day 152 is 2024-06-01 00:00 in Shanghai, before `now` (midnight UTC)
            mine = [e for e in events if (e[0] == "member:M9") == (key == "member:M9")
                    and e[2] <= 152]
            assert sum(got["interactions"].values()) == len(mine)
    finally:
        ws.close()


def f_ix(table: str):
    from siyu.consumers.index import INDEXED

    return INDEXED[f"consumer_index_{table}"]
