"""Import behaviour: formats, idempotence, unreadable files, streaming, --all, key registry."""

from __future__ import annotations

import csv
import json
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from siyu.errors import UnreadableFile
from siyu.ingest import import_dir, import_files
from tests.ingest.helpers import WRITERS, rows_of, write_csv, write_jsonl

HEADER = ["event_id", "consumer_key", "field", "action", "occurred_at", "field_ref"]
ROWS = [
    ["e1", "wecom:wm001", "guide", "start", "2025-03-01 09:00:00", "g1"],
    ["e2", "phone:13800138000", "group_chat", "start", "2025-03-02 09:00:00", "grp1"],
    ["e3", "wecom:wm001", "guide", "end", "2025-03-05 09:00:00", "g1"],
    ["e4", "bad key", "guide", "start", "2025-03-05 09:00:00", "g1"],
    ["e1", "wecom:wm001", "guide", "start", "2025-03-01 09:00:00", "g1"],
]


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet", "xlsx"])
def test_every_format_loads_the_same_rows(ws, tmp_path, fmt):
    f = WRITERS[fmt](tmp_path / f"relationships.{fmt}", HEADER, ROWS)
    r = import_files(ws, "relationships", [f])
    assert r.as_json() | {"rejects_file": None} == {
        "table": "relationships", "read": 5, "loaded": 3, "duplicates": 1, "rejected": 1,
        "rejects_file": None}
    got = rows_of(ws, "SELECT event_id, consumer_key, field, action, "
                      "strftime(occurred_at, '%Y-%m-%d %H:%M'), field_ref, _line "
                      "FROM relationships ORDER BY event_id")
    first_line = 1 if fmt in ("parquet", "jsonl") else 2  # no header line in these
    assert got == [
        ("e1", "wecom:wm001", "guide", "start", "2025-03-01 01:00", "g1", first_line),
        ("e2", "phone:13800138000", "group_chat", "start", "2025-03-02 01:00", "grp1",
         first_line + 1),
        ("e3", "wecom:wm001", "guide", "end", "2025-03-05 01:00", "g1", first_line + 2),
    ]
    with open(r.rejects_file, encoding="utf-8-sig") as fh:
        [rej] = list(csv.DictReader(fh))
    assert (rej["line"], rej["column"], rej["code"]) == (str(first_line + 3), "consumer_key",
                                                         "bad_key")
    assert json.loads(rej["row"])["event_id"] == "e4"


def test_importing_twice_adds_nothing(ws, tmp_path):
    f = write_csv(tmp_path / "r.csv", HEADER, ROWS)
    first = import_files(ws, "relationships", [f])
    second = import_files(ws, "relationships", [f])
    assert (first.loaded, first.duplicates) == (3, 1)
    assert (second.read, second.loaded, second.duplicates, second.rejected) == (5, 0, 4, 1)
    assert ws.warehouse.count("relationships") == 3


def test_stored_ids_are_skipped_and_new_ones_added(ws, tmp_path):
    import_files(ws, "relationships", [write_csv(tmp_path / "a.csv", HEADER, ROWS[:2])])
    more = [ROWS[1], ["e9", "member:M9", "membership", "start", "2025-04-01", ""]]
    r = import_files(ws, "relationships", [write_csv(tmp_path / "b.csv", HEADER, more)])
    assert (r.loaded, r.duplicates) == (1, 1)
    assert rows_of(ws, "SELECT count(*) FROM relationships") == [(3,)]


def test_dimension_rows_version_and_repeat_imports_add_nothing(ws, tmp_path):
    h = ["consumer_key", "name", "city"]
    a = write_csv(tmp_path / "c1.csv", h, [["member:M1", "王芳", "上海"], ["member:M2", "李娜", "杭州"]])
    assert import_files(ws, "consumers", [a]).loaded == 2
    assert import_files(ws, "consumers", [a]).duplicates == 2
    b = write_csv(tmp_path / "c2.csv", h, [["member:M1", "王芳", "北京"]])
    assert import_files(ws, "consumers", [b]).loaded == 1
    assert rows_of(ws, "SELECT city FROM consumers WHERE consumer_key = 'member:M1' "
                       "ORDER BY _load_id") == [("上海",), ("北京",)]


def test_wrong_field_count_is_a_reject_with_its_line(ws, tmp_path):
    f = tmp_path / "r.csv"
    f.write_text(",".join(HEADER) + "\n" + ",".join(ROWS[0]) + "\n" + "e7,member:M1,guide\n"
                 + ",".join(ROWS[1]) + "\n", encoding="utf-8")
    r = import_files(ws, "relationships", [f])
    assert (r.read, r.loaded, r.rejected) == (3, 2, 1)
    with open(r.rejects_file, encoding="utf-8-sig") as fh:
        [rej] = list(csv.DictReader(fh))
    assert (rej["line"], rej["code"]) == ("3", "unparsable_row")
    assert rows_of(ws, "SELECT event_id, _line FROM relationships ORDER BY _line") == [
        ("e1", 2), ("e2", 4)]


def test_quoted_commas_and_newlines_in_chinese_text(ws, tmp_path):
    h = ["event_id", "consumer_key", "field", "type", "occurred_at", "text"]
    rows = [["m1", "wecom:wm1", "guide", "message", "2025-03-01 10:00", "用完了，\n还想要两瓶"],
            ["m2", "wecom:wm1", "guide", "message", "2025-03-01 10:05", "谢谢"]]
    r = import_files(ws, "interactions", [write_csv(tmp_path / "i.csv", h, rows)])
    assert r.loaded == 2
    assert rows_of(ws, "SELECT text FROM interactions ORDER BY event_id") == [
        ("用完了，\n还想要两瓶",), ("谢谢",)]


def test_gb18030_csv_needs_and_accepts_the_encoding(ws, tmp_path):
    h = ["consumer_key", "name", "city"]
    f = write_csv(tmp_path / "c.csv", h, [["member:M1", "张伟", "广州"]], encoding="gb18030")
    with pytest.raises(UnreadableFile, match="gb18030"):
        import_files(ws, "consumers", [f])
    assert ws.warehouse.count("consumers") == 0
    import_files(ws, "consumers", [f], encoding="gb18030")
    assert rows_of(ws, "SELECT name, city FROM consumers") == [("张伟", "广州")]


@pytest.mark.parametrize("name,content", [
    ("orders.csv", b"\x00\x01\x02binary\xff\xfe garbage"),
    ("orders.parquet", b"PAR1 this is not parquet"),
    ("orders.xlsx", b"PK not a zip"),
    ("orders.jsonl", b"not json\nstill not json\n"),
    ("orders.csv", b"order_id,amount\no1,3\n"),  # required columns missing
    ("orders.csv", b""),
])
def test_unparseable_file_stops_and_loads_nothing(ws, tmp_path, name, content):
    f = tmp_path / name
    f.write_bytes(content)
    with pytest.raises(UnreadableFile):
        import_files(ws, "orders", [f])
    assert ws.warehouse.count("orders") == 0
    assert rows_of(ws, "SELECT count(*) FROM key_seen") == [(0,)]


def test_unparseable_file_after_a_good_one_keeps_the_good_one(ws, tmp_path):
    good = write_csv(tmp_path / "a.csv", HEADER, ROWS[:2])
    bad = tmp_path / "b.csv"
    bad.write_text("event_id,consumer_key\n", encoding="utf-8")
    with pytest.raises(UnreadableFile, match="missing required column"):
        import_files(ws, "relationships", [good, bad])
    assert ws.warehouse.count("relationships") == 2


def test_many_batches_keep_line_numbers_and_counts(ws, tmp_path):
    ws.settings.import_batch_rows = 1000
    rows = []
    for i in range(5000):
        key = "bad" if i % 997 == 0 else f"member:M{i % 300}"
        rows.append([f"e{i % 4500}", key, "membership", "start",
                     f"2025-01-01 00:00:{i % 60:02d}", ""])
    r = import_files(ws, "relationships", [write_csv(tmp_path / "r.csv", HEADER, rows)])
    bad = sum(1 for i in range(5000) if i % 997 == 0)
    assert r.read == 5000 and r.rejected == bad
    assert r.loaded == len({f"e{i % 4500}" for i in range(5000) if i % 997 != 0})
    assert r.loaded + r.duplicates + r.rejected == r.read
    # the first row of each id wins: its line is the smallest
    assert rows_of(ws, "SELECT _line FROM relationships WHERE event_id = 'e10'") == [(12,)]


def test_keys_are_registered_with_first_and_last_seen(ws, tmp_path):
    import_files(ws, "relationships", [write_csv(tmp_path / "r.csv", HEADER, ROWS)])
    import_files(ws, "identity_links", [write_csv(
        tmp_path / "l.csv", ["key_a", "key_b", "source", "observed_at"],
        [["wecom:wm001", "phone:13800138000", "wecom_bind", "2025-02-01 12:00:00"]])])
    got = rows_of(ws, "SELECT key, key_type, strftime(first_seen, '%m-%d %H'), "
                      "strftime(last_seen, '%m-%d %H'), n_rows, source_table FROM key_seen "
                      "ORDER BY source_table, key")
    assert got == [
        ("phone:13800138000", "phone", "02-01 04", "02-01 04", 1, "identity_links"),
        ("wecom:wm001", "wecom", "02-01 04", "02-01 04", 1, "identity_links"),
        ("phone:13800138000", "phone", "03-02 01", "03-02 01", 1, "relationships"),
        ("wecom:wm001", "wecom", "03-01 01", "03-05 01", 2, "relationships"),
    ]


def test_import_all_in_dependency_order(ws, tmp_path):
    d = tmp_path / "brand"
    d.mkdir()
    write_csv(d / "orders.csv", ["order_id", "consumer_key", "paid_at", "amount"],
              [["o1", "member:M1", "2025-03-01", "5"]])
    write_jsonl(d / "stores.jsonl", ["store_id", "name"], [["s1", "南京西路店"]])
    write_csv(d / "relationships.csv", HEADER, ROWS[:1])
    (d / "README.txt").write_text("not a table", encoding="utf-8")
    results = import_dir(ws, d)
    assert [r.table for r in results] == ["stores", "relationships", "orders"]
    assert [r.loaded for r in results] == [1, 1, 1]


def test_import_runs_are_recorded(ws, tmp_path):
    from sqlalchemy import select

    from siyu.ops.tables import import_runs

    r = import_files(ws, "relationships", [write_csv(tmp_path / "r.csv", HEADER, ROWS)])
    with ws.ops.engine.connect() as c:
        [run] = c.execute(select(import_runs)).mappings().all()
    assert run["load_id"] == r.files[0].load_id
    assert (run["status"], run["loaded"], run["duplicates"], run["rejected"]) == ("done", 3, 1, 1)
    assert rows_of(ws, "SELECT DISTINCT _load_id FROM relationships") == [(run["load_id"],)]


# --- property: nothing is lost, nothing counted twice ------------------------------------

row_st = st.tuples(
    st.integers(0, 30),                         # id (collisions make duplicates)
    st.sampled_from(["member:M1", "phone:13800138000", "phone:123", "", "x"]),
    st.sampled_from(["2025-03-01 10:00", "2025-02-30 10:00", ""]),
    st.sampled_from(["1.5", "-1", "abc", "0"]),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(row_st, min_size=1, max_size=40))
def test_counts_always_add_up_and_first_valid_row_of_an_id_wins(tmp_path_factory, rows):
    from siyu.workspace import Workspace

    w = Workspace.init(tmp_path_factory.mktemp("p") / "ws")
    src = [[f"o{i}", k, t, a] for i, k, t, a in rows]
    f = write_csv(tmp_path_factory.mktemp("f") / "o.csv",
                  ["order_id", "consumer_key", "paid_at", "amount"], src)
    r = import_files(w, "orders", [f])

    def valid(row):
        _, k, t, a = row
        return k in ("member:M1", "phone:13800138000") and t == "2025-03-01 10:00" \
            and a in ("1.5", "0")

    expected = {}
    for row in src:
        if valid(row):
            expected.setdefault(row[0], Decimal(row[3]))
    assert r.read == len(src)
    assert r.rejected == sum(1 for row in src if not valid(row))
    assert r.loaded == len(expected)
    assert r.loaded + r.duplicates + r.rejected == r.read
    assert dict(rows_of(w, "SELECT order_id, amount FROM orders")) == expected
    again = import_files(w, "orders", [f])
    assert (again.loaded, again.duplicates) == (0, r.loaded + r.duplicates)
    w.close()


def test_parquet_slices_follow_row_groups_and_keep_row_numbers(ws, tmp_path, monkeypatch):
    """Several row groups per slice and slices on row-group boundaries: every row is read once
    with its row number."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from siyu.ingest.readers import ParquetReader

    n = 2_500
    t = pa.table({"order_id": [f"o{i}" for i in range(n)],
                  "consumer_key": [f"member:M{i % 97}" for i in range(n)],
                  "paid_at": ["2025-03-01 10:00:00"] * n,
                  "amount": [float(i % 50) for i in range(n)]})
    f = tmp_path / "orders.parquet"
    pq.write_table(t, f, row_group_size=300)
    monkeypatch.setattr(ParquetReader, "min_slice_rows", 0)
    reader = ParquetReader(f, batch_rows=1_000)
    assert reader._bounds == [0, 1200, 2400, 2500]
    ws.settings.import_batch_rows = 1_000
    r = import_files(ws, "orders", [f])
    assert (r.read, r.loaded) == (n, n)
    assert rows_of(ws, "SELECT min(_line), max(_line), count(DISTINCT _line) FROM orders") == [
        (1, n, n)]
    assert rows_of(ws, "SELECT _line FROM orders WHERE order_id = 'o1234'") == [(1235,)]
