"""`siyu report`: one formatted workbook per period whose cells are the model results."""

from __future__ import annotations

import json
import os
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import openpyxl
import pytest
from openpyxl import Workbook
from typer.testing import CliRunner

from siyu.errors import SiyuError
from siyu.models.churn import churn_summary
from siyu.models.community import community
from siyu.models.daily import daily
from siyu.models.fast import TIER_KEYS, fast
from siyu.models.gmv import FACTORS, gmv
from siyu.models.health import health
from siyu.models.periods import parse_period, period_of, periods_between
from siyu.models.rfm import SEGMENT_ORDER, rfm, rfm_segments
from siyu.models.sources import Sources
from siyu.report import SHEET_NAMES, service, write_report
from siyu.workspace import Workspace
from tests.models.builder import Brand
from tests.models.test_fast import interactions
from tests.models.test_tiers import march_brand

FAMILIES = ["fast", "gmv", "daily", "health", "rfm", "churn", "cohorts", "community"]
"""The metric families the sheets read, in the order they are read."""
SHEETS = ["概览 Overview", "FAST+", "转化矩阵 Transitions", "连接 Connection", "GMV",
          "日监控 Daily", "健康 Health", "RFM", "流失 Churn", "留存 Cohorts", "社群 Community"]


def report_brand() -> Brand:
    """march_brand with visits (tiers as in tests/models/test_tiers) and two group chats; the
    group events change no tier: joins of existing consumers, a message, an order by u16 (who
    is in no relationship)."""
    b = interactions(march_brand())
    b.add("stores", store_id="S1", name="一店").add("stores", store_id="S2", name="二店")
    b.add("touchpoints", field_ref="grp1", field="group_chat", name="会员一群", store_id="S1",
          group_type="member")
    b.add("touchpoints", field_ref="0012", field="group_chat", name="无店群")
    b.rel("member:u2", "group_chat", "start", "2025-03-02 10:00", "grp1")
    b.rel("member:u3", "group_chat", "start", "2025-02-12 10:00", "grp1")
    b.rel("wecom:u1", "group_chat", "start", "2025-03-08 10:00", "0012")
    b.add("interactions", consumer_key="member:u3", field="group_chat", type="message",
          occurred_at="2025-03-04 10:00", field_ref="grp1")
    b.order("pos:u16", "2025-03-20 10:00", 1234.5, field="group_chat", field_ref="grp1")
    return b


@pytest.fixture(scope="module")
def env():
    """The isolated environment of tests/conftest.py, for module-scoped fixtures."""
    with pytest.MonkeyPatch.context() as mp:
        for k in list(os.environ):
            if k.startswith("SIYU_"):
                mp.delenv(k)
        mp.setenv("SIYU_LANG", "en")
        mp.setenv("SIYU_ID_SALT", "test-salt")
        yield mp


def invoke(*args):
    from siyu.cli import app

    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def expected(ws, period: str) -> SimpleNamespace:
    """What the model functions return for ``period`` (the report must show exactly this)."""
    src = Sources.of(ws)
    p = parse_period(period, zone=ws.settings.zone)
    days = periods_between(period_of(p.start, "day", p.zone),
                           period_of(p.end - timedelta(days=1), "day", p.zone), zone=p.zone)
    c = community(src, p)
    return SimpleNamespace(
        fast=fast(src, p), gmv=gmv(src, p),
        daily=daily(src, days).execute().to_dict("records"),
        health=health(src, [p]).execute().to_dict("records")[0],
        rfm={r["segment"]: r for r in
             rfm_segments(rfm(src, p.end_utc)).execute().to_dict("records")},
        churn=churn_summary(src, p.end_utc).execute().to_dict("records")[0],
        community=c["overall"].execute().to_dict("records")[0],
    )


@pytest.fixture(scope="module")
def march(env, tmp_path_factory):
    """The brand's workspace, its March report written by the CLI, and the model results."""
    tmp = tmp_path_factory.mktemp("report")
    ws = Workspace.init(tmp / "ws", brand_name="测试品牌")
    try:
        report_brand().load(ws, tmp)
        want = {p: expected(ws, p) for p in ("2025-03", "2024-01")}
    finally:
        ws.close()
    (tmp / "out").mkdir()
    out = tmp / "out" / "march.xlsx"
    r = invoke("report", "--period", "2025-03", "--out", out, "--home", tmp / "ws", "--json")
    assert r.exit_code == 0, r.output
    return SimpleNamespace(home=tmp / "ws", out=out, json=json.loads(r.stdout), want=want,
                           wb=openpyxl.load_workbook(out), tmp=tmp)


def row_of(sheet, text: str, col: int = 1) -> int:
    """The row whose column ``col`` reads ``text``."""
    for row in sheet.iter_rows(min_col=col, max_col=col):
        if row[0].value == text:
            return row[0].row
    raise AssertionError(f"{text!r} not in {sheet.title}")


def value_of(sheet, text: str, col: int = 2):
    return sheet.cell(row=row_of(sheet, text), column=col)


# -- the workbook ------------------------------------------------------------------------

def test_json_and_sheet_names(march):
    # nothing stored (no `siyu metrics compute`): every family computed from the models
    assert march.json == {"out": str(march.out), "period": "2025-03", "sheets": SHEETS,
                          "routes": dict.fromkeys(FAMILIES, "computed")}
    assert list(march.json["routes"]) == FAMILIES
    assert march.wb.sheetnames == SHEETS == list(SHEET_NAMES)
    assert sorted(p.name for p in march.out.parent.iterdir()) == ["march.xlsx"]  # no temp file


def test_overview(march):
    s = march.wb["概览 Overview"]
    assert [s["A2"].value, s["B2"].value] == ["品牌 brand", "测试品牌"]
    assert s["B3"].value == "2025-03" and s["B3"].data_type == "s"
    assert value_of(s, "首日 first day").value == datetime(2025, 3, 1)
    assert value_of(s, "末日 last day").value == datetime(2025, 3, 31)
    assert value_of(s, "上期 previous period").value == "2025-02"
    assert value_of(s, "siyu 版本 siyu version").value == "0.1.0"
    assert value_of(s, "propagation_window_days").value == "7"
    assert value_of(s, "retention_days").value == "7, 30"


def test_fast_sheet_is_the_model(march):
    s, r = march.wb["FAST+"], march.want["2025-03"].fast
    assert s["A2"].value == "可持续运营私域关系数 Capital"
    assert s["B2"].value == r["capital"] == 14
    assert s["B2"].number_format == "#,##0"
    assert value_of(s, "关系加深人数 deepened").value == r["deepened"] == 9
    conv = value_of(s, "角色关系加深效率 Conversion")
    assert conv.value == r["conversion"] == round(9 / 14, 6) and conv.number_format == "0.0%"
    mean = value_of(s, "角色关系价值 CLV 人均 mean")
    assert mean.value == r["clv"]["mean"] and mean.number_format == "#,##0.00"
    assert value_of(s, "CLV 合计 total").value == r["clv"]["total"]
    tiers = {t: value_of(s, label).value for t, label in enumerate(
        ["", "1 基础私域用户 basic private user", "2 未购会员 non-purchasing member",
         "3 已购会员 purchasing member", "4 复购会员 repeat member", "5 品牌KOC KOC"]) if t}
    assert tiers == {t: r["tiers"][TIER_KEYS[t]] for t in range(1, 6)} \
        == {1: 3, 2: 1, 3: 5, 4: 3, 5: 2}
    assert value_of(s, "5 品牌KOC KOC", 3).value == r["clv"]["by_tier"]["5"]


def test_transition_matrix(march):
    s, m = march.wb["转化矩阵 Transitions"], march.want["2025-03"].fast["transitions"]
    assert s["A1"].value == "上期末 \\ 本期末 P−1 \\ P"
    assert [c.value for c in s[1][1:7]] == ["0 — not in the private domain",
                                            "1 基础私域用户 basic private user",
                                            "2 未购会员 non-purchasing member",
                                            "3 已购会员 purchasing member",
                                            "4 复购会员 repeat member", "5 品牌KOC KOC"]
    assert [c.value for c in s["A"][1:7]] == [c.value for c in s[1][1:7]]
    cells = [[s.cell(row=2 + b, column=2 + a).value for a in range(6)] for b in range(6)]
    assert cells == m
    assert s["F4"].value == m[2][4] == 3  # non-purchasing member in Feb → repeat member
    assert s.freeze_panes == "B2"


def test_connection_null_is_an_empty_cell(march):
    s, r = march.wb["连接 Connection"], march.want["2025-03"].fast
    assert r["connection"]["shop"] is None
    shop = value_of(s, "店铺关注 shop")
    assert shop.value is None and shop.data_type == "n"  # empty, not 0
    guide = value_of(s, "导购企微 guide")
    assert guide.value == r["connection"]["guide"] == round(2 / 3, 6)
    assert guide.number_format == "0.0%"
    assert value_of(s, "小程序 mini_program").value == 0  # a real 0 stays 0
    g1 = value_of(s, "g1")
    assert g1.value == r["connection_by_ref"]["g1"] == 0.5


def test_gmv_sheet_is_the_model(march):
    s, r = march.wb["GMV"], march.want["2025-03"].gmv
    assert [c.value for c in s[2]] == ["私域GMV private GMV", r["previous_gmv"], r["gmv"],
                                       r["change"]]
    assert s["C2"].number_format == "#,##0.00"
    for i, k in enumerate(FACTORS):
        row = [c.value for c in s[3 + i]]
        assert row[1:] == [r["previous_factors"][k], r["factors"][k], r["attribution"][k]]
    assert s["C4"].number_format == "0.0%" and s["C3"].number_format == "#,##0"
    assert sum(r["attribution"].values()) == pytest.approx(r["change"])
    assert value_of(s, "社群 group_chat").value == r["by_field"]["group_chat"] == 1234.5
    assert value_of(s, "（无场域） none").value == r["by_field"]["none"]


def test_daily_one_row_per_day(march):
    s, rows = march.wb["日监控 Daily"], march.want["2025-03"].daily
    assert s.max_row == 1 + 31 + 1  # header, the days, a note
    assert s["A2"].value == datetime(2025, 3, 1) and s["A2"].number_format == "yyyy-mm-dd"
    assert s["A32"].value == datetime(2025, 3, 31)
    for i, r in enumerate(rows):
        assert s.cell(row=2 + i, column=3).value == int(r["capital"])
        assert s.cell(row=2 + i, column=4).value == round(r["activity_rate"], 6)
    assert s["D2"].number_format == "0.0%"


def test_health_rfm_churn_community_are_the_models(march):
    w = march.want["2025-03"]
    h = march.wb["健康 Health"]
    assert h.cell(row=row_of(h, "私域关系数 capital", 2), column=3).value \
        == w.health["capital"] == 14
    assert h.cell(row=row_of(h, "平均CLV mean CLV", 2), column=3).value == round(
        w.health["clv_mean"], 2)
    dau = h.cell(row=row_of(h, "日活率 DAU rate", 2), column=3)
    assert dau.value == round(w.health["dau_rate"], 6) and dau.number_format == "0.0%"

    s = march.wb["RFM"]
    for i, code in enumerate(SEGMENT_ORDER):
        r = w.rfm.get(code)
        assert s.cell(row=2 + i, column=2).value == (int(r["buyers"]) if r else 0)
    assert value_of(s, "合计 total").value == sum(int(r["buyers"]) for r in w.rfm.values())
    assert value_of(s, "新客 new", 4).value == round(w.rfm["new"]["gmv_share"], 6)

    c = march.wb["流失 Churn"]
    assert value_of(c, "私域用户 private-domain consumers").value == w.churn["private"]
    assert value_of(c, "高流失风险 high risk").value == w.churn["high_risk"]

    g = march.wb["社群 Community"]
    assert value_of(g, "成员 members").value == w.community["members"] == 3
    assert value_of(g, "GMV").value == w.community["gmv"] == 1234.5
    assert value_of(g, "成员 members", 4).value == 2  # the member group
    ref = g.cell(row=row_of(g, "0012"), column=1)
    assert ref.value == "0012" and ref.data_type == "s"  # an id stays text


def cells(sheet) -> list[list[tuple]]:
    return [[(c.value, c.number_format) for c in row] for row in sheet.iter_rows()]


def test_stored_results_give_the_same_workbook(march, tmp_path):
    """After `siyu metrics compute` the report reads the stored results — the month grain's
    for the month's families, the day grain's for the daily sheet and the day cohorts — and
    every cell and format is as when it computed them."""
    home = tmp_path / "ws"
    shutil.copytree(march.home, home)

    def compute(*args: str) -> None:
        r = invoke("metrics", "compute", *args, "--home", home, "--json")
        assert r.exit_code == 0, r.output

    def report(name: str) -> tuple[dict, openpyxl.Workbook]:
        out = tmp_path / name
        r = invoke("report", "--period", "2025-03", "--out", out, "--home", home, "--json")
        assert r.exit_code == 0, r.output
        return json.loads(r.stdout)["routes"], openpyxl.load_workbook(out)

    def same_as_computed(wb) -> None:
        assert wb.sheetnames == SHEETS
        for name in SHEETS:
            want, got = cells(march.wb[name]), cells(wb[name])
            if name == "概览 Overview":  # the time it was made differs, nothing else
                at = row_of(march.wb[name], "生成时间 generated at") - 1
                assert got[at][0] == want[at][0]
                want, got = want[:at] + want[at + 1:], got[:at] + got[at + 1:]
            assert got == want, name

    compute("--grain", "month", "--from", "2025-02", "--to", "2025-03")
    routes, wb = report("month.xlsx")
    # the days and the day cohorts are not stored yet
    assert routes == {**dict.fromkeys(FAMILIES, "stored"), "daily": "computed",
                      "cohorts": "computed"}
    same_as_computed(wb)

    compute("--grain", "day", "--from", "2025-03-01", "--to", "2025-03-31")
    routes, wb = report("all.xlsx")
    assert routes == dict.fromkeys(FAMILIES, "stored")
    same_as_computed(wb)
    # the human-readable output says the same
    r = invoke("report", "--period", "2025-03", "--out", tmp_path / "all.xlsx", "--force",
               "--home", home)
    assert "read from stored results: fast, gmv, daily, health, rfm, churn, cohorts, " \
        "community; computed: —" in " ".join(r.output.split())


def test_formatting(march):
    for s in march.wb.worksheets:
        head = s["A1"]
        assert head.font.b and head.fill.fgColor.rgb.endswith("DDEBF7"), s.title
        assert s.freeze_panes in ("A2", "B2"), s.title
        assert s.column_dimensions["A"].width >= 10, s.title
    s = march.wb["GMV"]
    assert s.column_dimensions["A"].width > len("私域GMV private GMV")


# -- other periods -----------------------------------------------------------------------

def test_empty_period(march):
    out = march.tmp / "out" / "empty.xlsx"
    ws = Workspace.open(march.home)
    try:
        r = write_report(ws, "2024-01", out)
    finally:
        ws.close()
    assert r["sheets"] == SHEETS
    wb = openpyxl.load_workbook(out)
    w = march.want["2024-01"]
    f = wb["FAST+"]
    assert f["B2"].value == w.fast["capital"] == 0
    assert value_of(f, "角色关系加深效率 Conversion").value is None
    assert value_of(wb["GMV"], "私域GMV private GMV", 3).value == 0
    assert value_of(wb["GMV"], "转化率 conversion (c)", 4).value is None  # LMDI undefined
    assert wb["日监控 Daily"].max_row == 1 + 31 + 1
    assert wb["日监控 Daily"]["D2"].value is None  # no capital: no activity rate
    assert value_of(wb["RFM"], "合计 total", 4).value is None
    assert value_of(wb["流失 Churn"], "高风险占比 high-risk rate").value is None
    assert wb["留存 Cohorts"]["A2"].value is None  # no entrants
    out.unlink()


@pytest.mark.parametrize("period, days", [("2025-W10", 7), ("2025-Q1", 90)])
def test_other_grains(march, period, days):
    out = march.tmp / f"{period}.xlsx"
    ws = Workspace.open(march.home)
    try:
        write_report(ws, period, out)
    finally:
        ws.close()
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == SHEETS
    assert wb["日监控 Daily"].max_row == 1 + days + 1
    assert wb["概览 Overview"]["B3"].value == period
    assert wb["概览 Overview"]["B4"].value == {7: "week", 90: "quarter"}[days]


# -- the command -------------------------------------------------------------------------

def test_refuses_to_overwrite_unless_forced(march):
    before = march.out.read_bytes()
    r = invoke("report", "--period", "2025-03", "--out", march.out, "--home", march.home)
    assert r.exit_code == 1 and "already exists" in r.stderr and "--force" in r.stderr
    assert march.out.read_bytes() == before
    out = march.tmp / "forced.xlsx"
    out.write_text("not a workbook")
    r = invoke("report", "--period", "2025-03-05", "--out", out, "--home", march.home,
               "--force")
    assert r.exit_code == 0, r.output
    assert "report written to" in r.stdout and "2025-03-05" in r.stdout
    assert openpyxl.load_workbook(out)["FAST+"]["B2"].value is not None


@pytest.mark.parametrize("args, code, text", [
    (["--period", "2025-13"], 2, "cannot read period"),
    (["--period", "2025-03", "--grain", "week"], 2, "expected 2025-W09"),
])
def test_bad_period_writes_nothing(march, args, code, text):
    folder = march.tmp / "bad"
    folder.mkdir(exist_ok=True)
    r = invoke("report", *args, "--out", folder / "r.xlsx", "--home", march.home)
    assert r.exit_code == code and text in r.stderr
    assert list(folder.iterdir()) == []


def test_bad_targets(march):
    r = invoke("report", "--period", "2025-03", "--out", march.tmp / "nowhere" / "r.xlsx",
               "--home", march.home)
    assert r.exit_code == 2 and "folder does not exist" in r.stderr
    assert not (march.tmp / "nowhere").exists()
    r = invoke("report", "--period", "2025-03", "--out", march.tmp / "r.csv", "--home",
               march.home)
    assert r.exit_code == 2 and ".xlsx" in r.stderr


def test_needs_resolved_identities(tmp_path):
    Workspace.init(tmp_path / "fresh", brand_name="t").close()
    r = invoke("report", "--period", "2025-03", "--out", tmp_path / "r.xlsx", "--home",
               tmp_path / "fresh", "--json")
    assert r.exit_code == 1 and "siyu identity resolve" in r.stderr and r.stdout == ""
    assert not (tmp_path / "r.xlsx").exists()


def test_a_failure_leaves_no_file(march, monkeypatch, tmp_path):
    monkeypatch.setattr(service, "BUILDERS", service.BUILDERS[:1])

    def broken_save(self, filename):
        Path(filename).write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(Workbook, "save", broken_save)
    ws = Workspace.open(march.home)
    try:
        with pytest.raises(SiyuError, match="disk full"):
            write_report(ws, "2025-03", tmp_path / "r.xlsx")
    finally:
        ws.close()
    assert list(tmp_path.iterdir()) == []


def test_chinese_messages(march, monkeypatch):
    monkeypatch.setenv("SIYU_LANG", "zh")
    r = invoke("report", "--period", "2025-03", "--out", march.out, "--home", march.home)
    assert r.exit_code == 1 and "已存在" in r.stderr
    r = invoke("report", "--help")
    assert "--force" in r.stdout


def test_a_file_that_appears_meanwhile_is_kept(march, monkeypatch, tmp_path):
    out = tmp_path / "r.xlsx"

    def meanwhile(ctx):
        out.write_text("someone else's")
        return service.overview(ctx)

    monkeypatch.setattr(service, "BUILDERS", (meanwhile,))
    ws = Workspace.open(march.home)
    try:
        with pytest.raises(SiyuError, match="already exists"):
            write_report(ws, "2025-03", out)
    finally:
        ws.close()
    assert out.read_text() == "someone else's" and list(tmp_path.iterdir()) == [out]
