"""``siyu audience export``: masked phones, the unmasked switch and its setting, the audit log,
CSV and Excel files."""

from __future__ import annotations

import csv
from datetime import date

import pytest
from openpyxl import load_workbook

from siyu.audience.export import COLUMNS, ExportNotAllowed, export
from siyu.audience.refresh import refresh
from siyu.audience.saved import save
from siyu.errors import SiyuError, UsageError
from siyu.ops.audit import entries
from tests.audience.conftest import make_ws, people

AS_OF = date(2025, 3, 31)


@pytest.fixture
def ews(tmp_path):
    w = make_ws(tmp_path)
    # u1 (wecom + phone 13900001111, 上海, female, born in March), u2 (member + phone
    # 13812345678, 北京, male), u3 (member + e-mail, latest row 上海 female)
    save(w, "three", 'tag("抗衰老需求") or tag("肤质", "干性") and city = "上海"')
    refresh(w, "three", AS_OF)
    yield w
    w.close()


def read_csv(path) -> list[dict]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def by_person(ws, rows: list[dict]) -> dict[str, dict]:
    person = {c: p for p, c in people(ws).items()}
    return {person[r["consumer_id"]]: r for r in rows}


def test_csv_masks_phones_and_emails(ews, tmp_path):
    out = tmp_path / "three.csv"
    got = export(ews, "three", out, actor="cli:tester")
    assert {k: got[k] for k in ("rows", "masked", "format", "as_of")} == {
        "rows": 3, "masked": True, "format": "csv", "as_of": "2025-03-31"}
    rows = read_csv(out)
    assert list(rows[0]) == list(COLUMNS)
    assert [r["consumer_id"] for r in rows] == sorted(r["consumer_id"] for r in rows)
    p = by_person(ews, rows)
    assert p["u1"] == {"consumer_id": people(ews)["u1"], "phone": "139****1111",
                       "keys": "wecom:u1", "gender": "female", "city": "上海", "province": "上海",
                       "birthday_month": "3"}
    assert p["u2"]["phone"] == "138****5678" and p["u2"]["keys"] == "member:u2"
    assert (p["u2"]["gender"], p["u2"]["city"]) == ("male", "北京")
    assert p["u3"]["phone"] == "" and p["u3"]["keys"] == "email:a***@example.com member:u3"
    text = out.read_text(encoding="utf-8-sig")
    assert "13812345678" not in text and "alice@" not in text
    [e] = entries(ews.ops, "export")
    assert (e["actor"], e["target"]) == ("cli:tester", "three")
    assert e["detail"] == {"rows": 3, "masked": True, "format": "csv",
                           "refresh_id": got["refresh_id"]}


def test_unmasked_needs_the_setting(ews, tmp_path, monkeypatch):
    out = tmp_path / "full.csv"
    with pytest.raises(ExportNotAllowed, match="export_unmasked_allowed"):
        export(ews, "three", out, unmasked=True, actor="cli:tester")
    assert not out.exists()
    [denied] = entries(ews.ops, "export_denied")
    assert denied["target"] == "three" and denied["detail"]["masked"] is False
    assert entries(ews.ops, "export") == []

    monkeypatch.setenv("SIYU_EXPORT_UNMASKED_ALLOWED", "true")
    from siyu.workspace import Workspace

    with Workspace.open(ews.home) as w2:
        ews.close()  # one DuckDB writer
        got = export(w2, "three", out, unmasked=True)
        p = by_person(w2, read_csv(out))
        assert p["u2"]["phone"] == "13812345678"
        assert p["u3"]["keys"] == "email:alice@example.com member:u3"
        assert got["masked"] is False
        [e] = entries(w2.ops, "export")
        assert e["detail"]["masked"] is False and e["detail"]["rows"] == 3
        assert "13812345678" not in str(e)  # no personal data in the audit entry


def test_xlsx(ews, tmp_path):
    out = tmp_path / "three.xlsx"
    got = export(ews, "three", out)
    assert got["rows"] == 3 and got["format"] == "xlsx"
    sheet = load_workbook(out).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == COLUMNS and len(rows) == 4
    phones = sorted(r[1] for r in rows[1:] if r[1])
    assert phones == ["138****5678", "139****1111"]


def test_targets_and_unrefreshed_audiences(ews, tmp_path):
    with pytest.raises(UsageError, match=".csv or .xlsx"):
        export(ews, "three", tmp_path / "x.parquet")
    with pytest.raises(UsageError, match="folder does not exist"):
        export(ews, "three", tmp_path / "nope" / "x.csv")
    (tmp_path / "old.csv").write_text("keep")
    with pytest.raises(SiyuError, match="--force"):
        export(ews, "three", tmp_path / "old.csv")
    assert (tmp_path / "old.csv").read_text() == "keep"
    assert export(ews, "three", tmp_path / "old.csv", force=True)["rows"] == 3
    save(ews, "fresh", "tier = 1")
    with pytest.raises(SiyuError, match="never refreshed"):
        export(ews, "fresh", tmp_path / "fresh.csv")
    assert len(entries(ews.ops, "export")) == 1
