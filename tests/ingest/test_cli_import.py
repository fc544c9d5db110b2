"""`siyu import` from the command line: JSON contract, exit codes, --all, loads."""

from __future__ import annotations

import json

from tests.ingest.helpers import write_csv

H = ["order_id", "consumer_key", "paid_at", "amount"]


def test_json_is_exactly_one_object_with_the_contract_keys(ws, tmp_path, cli):
    f = write_csv(tmp_path / "o.csv", H, [["o1", "member:M1", "2025-03-01", "5"],
                                          ["o2", "member:M1", "nope", "5"]])
    r = cli("import", "orders", f, "--home", ws.home, "--json")
    lines = [x for x in r.stdout.splitlines() if x.strip()]
    assert len(lines) == 1
    got = json.loads(lines[0])
    assert list(got) == ["table", "read", "loaded", "duplicates", "rejected", "rejects_file"]
    assert {k: got[k] for k in list(got)[:5]} == {
        "table": "orders", "read": 2, "loaded": 1, "duplicates": 0, "rejected": 1}
    assert got["rejects_file"].startswith(str(ws.home / "rejects"))
    again = cli.json("import", "orders", f, "--home", ws.home)
    assert (again["loaded"], again["duplicates"], again["rejected"]) == (0, 1, 1)


def test_several_files_add_up(ws, tmp_path, cli):
    a = write_csv(tmp_path / "a.csv", H, [["o1", "member:M1", "2025-03-01", "5"]])
    b = write_csv(tmp_path / "b.csv", H, [["o1", "member:M1", "2025-03-01", "5"],
                                          ["o2", "member:M2", "2025-03-01", "6"]])
    got = cli.json("import", "orders", a, b, "--home", ws.home)
    assert (got["read"], got["loaded"], got["duplicates"], got["rejects_file"]) == (3, 2, 1, None)


def test_unparseable_file_exits_2_with_one_line(ws, tmp_path, cli):
    f = tmp_path / "o.csv"
    f.write_bytes(b"\x00\x00\x00\xff")
    r = cli("import", "orders", f, "--home", ws.home, "--json", ok=False)
    assert r.exit_code == 2
    assert r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1
    assert "nothing was loaded" in r.stderr


def test_usage_errors_exit_2(ws, tmp_path, cli):
    assert cli("import", "orders", "--home", ws.home, ok=False).exit_code == 2
    assert cli("import", "nosuch", tmp_path / "x.csv", "--home", ws.home,
               ok=False).exit_code == 2
    r = cli("import", "orders", tmp_path / "missing.csv", "--home", ws.home, ok=False)
    assert r.exit_code == 2 and "no such file" in r.stderr
    f = write_csv(tmp_path / "o.dat", H, [])
    r = cli("import", "orders", f, "--home", ws.home, ok=False)
    assert r.exit_code == 2 and "--format" in r.stderr
    assert cli("import", "orders", f, "--format", "csv", "--home", ws.home).exit_code == 0


def test_import_all_json_and_human_summary(ws, tmp_path, cli):
    d = tmp_path / "d"
    d.mkdir()
    write_csv(d / "orders.csv", H, [["o1", "member:M1", "2025-03-01", "5"]])
    write_csv(d / "stores.csv", ["store_id"], [["s1"], ["s2"]])
    got = cli.json("import", "--all", d, "--home", ws.home)
    assert [t["table"] for t in got["tables"]] == ["stores", "orders"]
    assert (got["loaded"], got["read"]) == (3, 3)
    r = cli("import", "--all", d, "--home", ws.home)
    assert "stores" in r.stdout and "orders" in r.stdout
    loads = cli.json("loads", "--home", ws.home)["loads"]
    assert len(loads) == 4 and {x["status"] for x in loads} == {"done"}
