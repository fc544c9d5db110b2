"""Every §2 validation rule, each with a failing row next to good rows."""

from __future__ import annotations

import csv
from decimal import Decimal

import pytest

from siyu.ingest import import_files
from tests.ingest.helpers import rows_of, write_csv

ORDER_HEADER = ["order_id", "consumer_key", "paid_at", "amount", "status", "field"]
GOOD = ["o-good", "member:M1", "2025-03-01 10:00:00", "10.00", "paid", "guide"]


def _rejects(path) -> list[dict]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


# (column to change, bad value, expected reject column, expected code)
ORDER_CASES = [
    ("order_id", "", "order_id", "missing"),
    ("consumer_key", "", "consumer_key", "missing"),
    ("consumer_key", "13800138000", "consumer_key", "bad_key"),
    ("consumer_key", "phone:", "consumer_key", "bad_key"),
    ("consumer_key", "weibo:abc", "consumer_key", "bad_key_type"),
    ("consumer_key", "phone:12345", "consumer_key", "bad_phone"),
    ("consumer_key", "phone:+1 415 555 0100", "consumer_key", "bad_phone"),
    ("paid_at", "", "paid_at", "missing"),
    ("paid_at", "2025-13-45 25:61:00", "paid_at", "bad_timestamp"),
    ("paid_at", "昨天", "paid_at", "bad_timestamp"),
    ("amount", "", "amount", "missing"),
    ("amount", "abc", "amount", "bad_number"),
    ("amount", "-0.01", "amount", "out_of_range"),
    ("status", "lost", "status", "bad_enum"),
    ("field", "tiktok", "field", "bad_enum"),
]


@pytest.mark.parametrize(("column", "value", "rej_column", "code"), ORDER_CASES)
def test_each_order_rule_rejects_its_row_and_keeps_the_good_one(ws, tmp_path, column, value,
                                                                  rej_column, code):
    bad = list(GOOD)
    bad[0] = "o-bad"
    bad[ORDER_HEADER.index(column)] = value
    f = write_csv(tmp_path / "orders.csv", ORDER_HEADER, [GOOD, bad])
    r = import_files(ws, "orders", [f])
    assert (r.read, r.loaded, r.rejected, r.duplicates) == (2, 1, 1, 0)
    [rej] = _rejects(r.rejects_file)
    assert (rej["line"], rej["column"], rej["code"]) == ("3", rej_column, code)
    assert rej["file"] == str(f)
    assert rej["reason"]
    assert rows_of(ws, "SELECT order_id FROM orders") == [("o-good",)]


OTHER_CASES = [
    # table, header, good row, bad row, rejected column, code
    ("reviews", ["review_id", "consumer_key", "rating", "occurred_at"],
     ["r1", "member:M1", "5", "2025-03-01"], ["r2", "member:M1", "6", "2025-03-01"],
     "rating", "out_of_range"),
    ("reviews", ["review_id", "consumer_key", "rating", "occurred_at"],
     ["r1", "member:M1", "5", "2025-03-01"], ["r2", "member:M1", "4.5", "2025-03-01"],
     "rating", "bad_integer"),
    ("consents", ["event_id", "consumer_key", "purpose", "granted", "occurred_at"],
     ["c1", "member:M1", "marketing", "是", "2025-03-01"],
     ["c2", "member:M1", "marketing", "maybe", "2025-03-01"], "granted", "bad_bool"),
    ("consents", ["event_id", "consumer_key", "purpose", "granted", "occurred_at"],
     ["c1", "member:M1", "marketing", "false", "2025-03-01"],
     ["c2", "member:M1", "spam", "true", "2025-03-01"], "purpose", "bad_enum"),
    ("surveys", ["response_id", "consumer_key", "kind", "score", "occurred_at"],
     ["s1", "member:M1", "ces", "7", "2025-03-01"], ["s2", "member:M1", "ces", "9", "2025-03-01"],
     "score", "out_of_range"),
    ("surveys", ["response_id", "consumer_key", "kind", "score", "occurred_at"],
     ["s1", "member:M1", "nps", "9", "2025-03-01"], ["s2", "member:M1", "nps", "x", "2025-03-01"],
     "score", "bad_number"),
    ("consumers", ["consumer_key", "gender", "birthday"], ["member:M1", "女", "1990-05-01"],
     ["member:M2", "女", "1990-02-30"], "birthday", "bad_date"),
    ("consumers", ["consumer_key", "gender"], ["member:M1", "男"], ["member:M2", "x"],
     "gender", "bad_enum"),
    ("order_items", ["order_id", "sku", "quantity", "unit_price"], ["o1", "A", "2", "9.9"],
     ["o1", "B", "0", "9.9"], "quantity", "out_of_range"),
    ("interactions", ["event_id", "consumer_key", "field", "type", "occurred_at",
                      "dwell_seconds"],
     ["i1", "openid:x", "mini_program", "view", "2025-03-01 08:00", "30"],
     ["i2", "openid:x", "mini_program", "stare", "2025-03-01 08:00", "30"], "type", "bad_enum"),
    ("identity_links", ["key_a", "key_b"], ["phone:13800138000", "unionid:u1"],
     ["phone:13800138000", "bogus"], "key_b", "bad_key"),
    ("guides", ["guide_id", "status"], ["g1", "left"], ["g2", "fired"], "status", "bad_enum"),
]


@pytest.mark.parametrize(("table", "header", "good", "bad", "rej_column", "code"), OTHER_CASES)
def test_rules_of_other_tables(ws, tmp_path, table, header, good, bad, rej_column, code):
    f = write_csv(tmp_path / f"{table}.csv", header, [good, bad])
    r = import_files(ws, table, [f])
    assert (r.loaded, r.rejected) == (1, 1)
    [rej] = _rejects(r.rejects_file)
    assert (rej["line"], rej["column"], rej["code"]) == ("3", rej_column, code)


def test_normalisation_of_keys_money_enums_and_defaults(ws, tmp_path):
    rows = [
        ["o1", "phone:+86 138-0013-8000", "2025-03-01 10:00:00", "¥1,299.50", "", "GUIDE"],
        ["o2", "PHONE:(86)13900139000", "2025-03-01 10:00:00", "0", "Refunded", ""],
        ["o3", "Member: M 7 ", "2025-03-01 10:00:00", "12.345", "paid", "group_chat"],
    ]
    r = import_files(ws, "orders", [write_csv(tmp_path / "o.csv", ORDER_HEADER, rows)])
    assert (r.loaded, r.rejected) == (3, 0)
    got = rows_of(ws, "SELECT order_id, consumer_key, amount, status, field FROM orders "
                      "ORDER BY order_id")
    assert got == [
        ("o1", "phone:13800138000", Decimal("1299.50"), "paid", "guide"),
        ("o2", "phone:13900139000", Decimal("0.00"), "refunded", None),
        ("o3", "member:M 7", Decimal("12.35"), "paid", "group_chat"),
    ]


def test_timestamps_naive_in_brand_zone_zoned_as_written(ws, tmp_path):
    rows = [
        ["o1", "member:M1", "2025-03-01 10:00:00", "1", "paid", "guide"],
        ["o2", "member:M1", "2025-03-01T10:00:00+00:00", "1", "paid", "guide"],
        ["o3", "member:M1", "2025-03-01T10:00:00Z", "1", "paid", "guide"],
        ["o4", "member:M1", "2025/03/01 10:00", "1", "paid", "guide"],
        ["o5", "member:M1", "2025-03-01", "1", "paid", "guide"],
        ["o6", "member:M1", "2025-03-01T10:00:00.250+09:00", "1", "paid", "guide"],
    ]
    import_files(ws, "orders", [write_csv(tmp_path / "o.csv", ORDER_HEADER, rows)])
    got = dict(rows_of(ws, "SELECT order_id, strftime(paid_at, '%Y-%m-%d %H:%M:%S.%g') "
                           "FROM orders"))
    assert got == {
        "o1": "2025-03-01 02:00:00.000", "o2": "2025-03-01 10:00:00.000",
        "o3": "2025-03-01 10:00:00.000", "o4": "2025-03-01 02:00:00.000",
        "o5": "2025-02-28 16:00:00.000", "o6": "2025-03-01 01:00:00.250",
    }


def test_brand_time_zone_setting_changes_naive_reading(tmp_path, monkeypatch):
    from siyu.workspace import Workspace

    w = Workspace.init(tmp_path / "tokyo", timezone="Asia/Tokyo")
    f = write_csv(tmp_path / "o.csv", ORDER_HEADER, [GOOD])
    import_files(w, "orders", [f])
    assert rows_of(w, "SELECT strftime(paid_at, '%H:%M') FROM orders") == [("01:00",)]
    w.close()


def test_extra_columns_are_kept_in_attrs(ws, tmp_path):
    f = write_csv(tmp_path / "o.csv", [*ORDER_HEADER, "channel_code", "备注"],
                  [[*GOOD, "QR-7", "老客户"], [*(["o2"] + GOOD[1:]), "", ""]])
    import_files(ws, "orders", [f])
    got = dict(rows_of(ws, "SELECT order_id, attrs FROM orders"))
    assert got == {"o-good": '{"channel_code":"QR-7","备注":"老客户"}', "o2": None}


def test_reject_reasons_follow_the_language(ws, tmp_path, monkeypatch):
    monkeypatch.setenv("SIYU_LANG", "zh")
    bad = ["o2", "member:M1", "昨天", "1", "paid", "guide"]
    r = import_files(ws, "orders", [write_csv(tmp_path / "o.csv", ORDER_HEADER, [bad])])
    assert _rejects(r.rejects_file)[0]["reason"] == "不是有效的时间"


def test_brand_zone_survives_ibis_and_gives_local_days(ws, tmp_path):
    """Ibis resets DuckDB's session zone to UTC when it wraps the connection; the warehouse
    puts the brand's zone back, so later imports still read naive times in it and Ibis
    calendar functions give brand-local days."""
    t = ws.warehouse.ibis.table("orders")  # wraps the connection
    late = ["o-late", "member:M1", "2025-03-01 23:30:00", "1", "paid", "guide"]
    import_files(ws, "orders", [write_csv(tmp_path / "o.csv", ORDER_HEADER, [late])])
    assert rows_of(ws, "SELECT strftime(paid_at, '%Y-%m-%d %H:%M') FROM orders") == [
        ("2025-03-01 15:30",)]
    t = ws.warehouse.ibis.table("orders")
    got = t.select(d=t.paid_at.date(), h=t.paid_at.hour()).execute()
    assert (got["d"][0].strftime("%Y-%m-%d"), int(got["h"][0])) == ("2025-03-01", 23)
