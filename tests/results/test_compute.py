"""``siyu metrics compute``: stored results equal the models' answers, and re-runs recompute
exactly the periods that changed."""

from __future__ import annotations

import tempfile
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from siyu.config import load_settings
from siyu.models.daily import daily
from siyu.models.fast import TIER_KEYS, fast
from siyu.models.gmv import gmv
from siyu.models.periods import parse_period
from siyu.models.rfm import rfm, rfm_segments
from siyu.models.sources import Sources
from siyu.results import RESULTS, compute_metrics
from siyu.results.compute import auto_batch_periods
from siyu.warehouse import parse_bytes
from siyu.workspace import Workspace
from tests.models.builder import Brand
from tests.models.test_tiers import march_brand


@pytest.fixture
def brand_ws(ws, tmp_path):
    march_brand().load(ws, tmp_path)
    return ws


def rows(ws, table: str, grain: str = "month", **where) -> list[dict]:
    cond = " AND ".join(["grain = ?", *(f"{k} = ?" for k in where)])
    cur = ws.warehouse.raw.execute(f"SELECT * FROM {table} WHERE {cond} ORDER BY ALL",
                                   [grain, *where.values()])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def snapshot(ws) -> dict[str, list[tuple]]:
    """Every stored result, sorted, for comparing two workspaces."""
    out = {}
    for r in RESULTS:
        cur = ws.warehouse.raw.execute(f"SELECT * FROM {r.table} ORDER BY ALL")
        out[r.table] = [tuple(float(x) if isinstance(x, Decimal) else x for x in row)
                        for row in cur.fetchall()]
    return out


def test_stored_fast_and_gmv_equal_the_models(brand_ws):
    rep = compute_metrics(brand_ws, "month", "2025-02", "2025-04")
    assert rep.computed == ["2025-02", "2025-03", "2025-04"] and rep.reason == "first_run"
    src = Sources.of(brand_ws)
    march = parse_period("2025-03", zone=brand_ws.settings.zone)
    want = fast(src, march)
    [got] = rows(brand_ws, "metrics_fast", period="2025-03")
    assert got["capital"] == want["capital"] == 14
    assert got["deepened"] == want["deepened"]
    assert got["conversion"] == pytest.approx(want["conversion"])
    assert {k: got[k] for k in TIER_KEYS.values()} == want["tiers"]
    assert float(got["clv_total"]) == want["clv"]["total"]
    assert round(got["clv_mean"], 2) == want["clv"]["mean"]
    cells = {(r["before"], r["after"]): r["n"]
             for r in rows(brand_ws, "metrics_transitions", period="2025-03")}
    assert cells == {(b, a): n for b, row in enumerate(want["transitions"])
                     for a, n in enumerate(row) if n}

    g = gmv(src, march)
    [got] = rows(brand_ws, "metrics_gmv", period="2025-03")
    assert float(got["gmv"]) == g["gmv"] and float(got["change"]) == g["change"]
    assert {k: float(got[f"attr_{k}"]) for k in g["attribution"]} == g["attribution"]
    assert sum(float(got[f"attr_{k}"]) for k in g["attribution"]) == pytest.approx(
        g["change"], abs=1e-9)


def test_stored_daily_and_rfm_equal_the_models(brand_ws):
    compute_metrics(brand_ws, "month", "2025-03", "2025-03")
    src = Sources.of(brand_ws)
    march = parse_period("2025-03", zone=brand_ws.settings.zone)
    want = daily(src, [march]).execute().iloc[0]
    [got] = rows(brand_ws, "metrics_daily", period="2025-03")
    for k in ("new_users", "capital", "active", "buyers", "churned", "group_exits"):
        assert got[k] == want[k], k
    seg = rfm_segments(rfm(src, march.end_utc)).execute()
    want_seg = {r.segment: (int(r.buyers), float(r.monetary)) for r in seg.itertuples()}
    got_seg = {r["segment"]: (r["buyers"], float(r["monetary"]))
               for r in rows(brand_ws, "metrics_rfm", period="2025-03")}
    assert got_seg == want_seg and sum(b for b, _ in got_seg.values()) == 14


def test_stored_consumer_tiers_are_the_ladder_in_consumer_order(brand_ws):
    """One row per consumer with tier ≥ 1 and period, inserted straight from the engine
    sorted by consumer and period (a consumer's history sits in few row groups)."""
    from siyu.models.tiers import tiers

    compute_metrics(brand_ws, "month", "2025-02", "2025-04")
    src = Sources.of(brand_ws)
    zone = brand_ws.settings.zone
    want = set()
    for name in ("2025-02", "2025-03", "2025-04"):
        t = tiers(src, [parse_period(name, zone=zone)]).execute()
        want |= {(name, c, int(n)) for c, n in zip(t.consumer_id, t.tier, strict=True)}
    stored = brand_ws.warehouse.raw.execute(
        "SELECT period, consumer_id, tier FROM metrics_consumer_tiers WHERE grain = 'month' "
        "ORDER BY rowid").fetchall()
    assert len([w for w in want if w[0] == "2025-03"]) == 14
    assert len(stored) == len(want) and set(stored) == want
    assert stored == sorted(stored, key=lambda r: (r[1], r[0]))


def test_a_rerun_without_changes_computes_nothing(brand_ws):
    compute_metrics(brand_ws, "month", "2025-02", "2025-04")
    before = snapshot(brand_ws)
    rep = compute_metrics(brand_ws, "month", "2025-02", "2025-04")
    assert rep.computed == [] and rep.reason == "up_to_date" and rep.skipped == 3
    assert snapshot(brand_ws) == before


def test_new_rows_recompute_their_period_and_those_after(brand_ws, tmp_path):
    compute_metrics(brand_ws, "month", "2025-01", "2025-05")
    feb = rows(brand_ws, "metrics_fast", period="2025-02")
    Brand().order("member:u2", "2025-03-25 10:00", 40).load(brand_ws, tmp_path)
    rep = compute_metrics(brand_ws, "month", "2025-01", "2025-05")
    assert rep.computed == ["2025-03", "2025-04", "2025-05"] and rep.reason == "new_data"
    assert rows(brand_ws, "metrics_fast", period="2025-02") == feb
    [mar] = rows(brand_ws, "metrics_fast", period="2025-03")
    assert (mar["member_no_purchase"], mar["member_purchased"]) == (0, 6)  # u2 bought
    # the same as computing everything again
    incremental = snapshot(brand_ws)
    compute_metrics(brand_ws, "month", "2025-01", "2025-05", full=True)
    assert snapshot(brand_ws) == incremental


def test_a_oneid_merge_recomputes_from_the_merged_keys_first_event(brand_ws, tmp_path):
    compute_metrics(brand_ws, "month", "2025-01", "2025-04")
    [before] = rows(brand_ws, "metrics_gmv", period="2025-03")
    # u16 (a buyer with no relationship, first event 2025-03-05) turns out to be u1
    Brand().link("pos:u16", "wecom:u1", "2025-04-02 00:00").load(brand_ws, tmp_path)
    rep = compute_metrics(brand_ws, "month", "2025-01", "2025-04")
    assert rep.computed == ["2025-03", "2025-04"]
    [mar] = rows(brand_ws, "metrics_fast", period="2025-03")
    assert mar["basic"] == 3 and mar["capital"] == 14  # u1 keeps tier 1: not a member
    [after] = rows(brand_ws, "metrics_gmv", period="2025-03")
    # u16's order of 500 is now private-domain GMV (u1 is in Capital)
    assert after["gmv"] - before["gmv"] == 500 and after["buyers"] == before["buyers"] + 1


def test_changed_settings_recompute_everything(brand_ws):
    compute_metrics(brand_ws, "month", "2025-02", "2025-03")
    brand_ws.settings = load_settings(brand_ws.settings_path, propagation_window_days=8)
    rep = compute_metrics(brand_ws, "month", "2025-02", "2025-03")
    assert rep.reason == "definitions_changed" and rep.computed == ["2025-02", "2025-03"]
    [mar] = rows(brand_ws, "metrics_fast", period="2025-03")
    assert mar["koc"] == 3  # u11's day-8 share now counts


def test_a_new_store_recomputes_everything(brand_ws, tmp_path):
    compute_metrics(brand_ws, "month", "2025-02", "2025-03")
    Brand().add("stores", store_id="S9", name="新店").load(brand_ws, tmp_path)
    rep = compute_metrics(brand_ws, "month", "2025-02", "2025-03")
    assert rep.computed == ["2025-02", "2025-03"] and rep.reason == "new_data"


def test_batches_of_any_size_store_the_same_results(brand_ws, tmp_path):
    """Four months in batches of 1, 3 (3 + 1) and the automatic size (all 4 at once) store
    the same rows."""
    rep = compute_metrics(brand_ws, "month", "2025-01", "2025-04")
    assert rep.batch_periods == 12
    whole = snapshot(brand_ws)
    for size in (1, 3):
        brand_ws.settings = load_settings(brand_ws.settings_path, metrics_batch_periods=size)
        rep = compute_metrics(brand_ws, "month", "2025-01", "2025-04", full=True)
        assert rep.batch_periods == size and len(rep.computed) == 4
        assert snapshot(brand_ws) == whole


def test_the_automatic_batch_size_follows_consumers_and_memory():
    gib = 2**30
    # the measured point: 10.3 M consumers in an 11.2 GiB limit ran 6 months at once
    assert auto_batch_periods(10_301_870, int(11.19 * gib)) == 6
    assert auto_batch_periods(10_301_870, int(9.31 * gib)) == 5
    assert auto_batch_periods(1_030_187, int(11.19 * gib)) == 12  # capped at a year
    assert auto_batch_periods(0, gib) == 12  # no consumers yet
    assert auto_batch_periods(10**9, gib) == 1  # never less than one period
    assert auto_batch_periods(5_600_000, gib) == 1 and auto_batch_periods(2_800_000, gib) == 2


@pytest.mark.parametrize(("text", "n"), [("11.1 GiB", int(11.1 * 2**30)), ("10GB", 10**10),
                                         ("476.8 MiB", int(476.8 * 2**20)), ("0 bytes", 0),
                                         ("512", 512), ("16383.9 PiB", int(16383.9 * 2**50)),
                                         ("2TB", 2 * 10**12)])
def test_memory_amounts_are_read_in_their_units(text, n):
    assert parse_bytes(text) == n


@pytest.mark.parametrize("text", ["", "many", "10 parsecs", "-1 GiB", "1.2.3 GB"])
def test_a_memory_amount_that_is_not_one_is_refused(text):
    with pytest.raises(ValueError, match="not an amount of memory"):
        parse_bytes(text)


def test_the_engine_reports_its_memory_limit(ws):
    ws.warehouse.raw.execute("SET memory_limit = '1GB'")
    assert ws.warehouse.memory_limit_bytes() == pytest.approx(10**9, rel=0.01)
    ws.warehouse.raw.execute("SET memory_limit = '-1'")  # no limit
    assert ws.warehouse.memory_limit_bytes() > 2**60


def test_grains_are_kept_apart(brand_ws):
    compute_metrics(brand_ws, "month", "2025-03", "2025-03")
    rep = compute_metrics(brand_ws, "week", "2025-W10", "2025-W11")
    assert rep.computed == ["2025-W10", "2025-W11"]
    assert [r["period"] for r in rows(brand_ws, "metrics_fast", "week")] == \
        ["2025-W10", "2025-W11"]
    assert len(rows(brand_ws, "metrics_fast", "month")) == 1
    cohorts = rows(brand_ws, "metrics_cohorts", "week")
    assert cohorts and all("-W" in r["period"] for r in cohorts)


def test_an_empty_warehouse_computes_nothing(ws, tmp_path):
    Brand().link("member:a", "wecom:a").load(ws, tmp_path)
    rep = compute_metrics(ws, "month")
    assert rep.requested == [] and rep.computed == []


# -- the CLI -------------------------------------------------------------------------------

def test_cli_json_and_errors(brand_ws, cli):
    home = brand_ws.home
    brand_ws.close()
    got = cli.json("metrics", "compute", "--home", home, "--from", "2025-02", "--to", "2025-03")
    assert got["computed"] == ["2025-02", "2025-03"] and got["from"] == "2025-02"
    assert set(got) == {"grain", "from", "to", "computed", "up_to_date", "reason", "tables",
                        "batch_periods", "seconds"}
    assert got["batch_periods"] == 12  # a small brand: a year of months fits in one batch
    r = cli("metrics", "compute", "--home", home, "--grain", "fortnight", ok=False)
    assert r.exit_code == 2 and "fortnight" in r.output
    r = cli("metrics", "compute", "--home", home, "--from", "2025-03", "--to", "2025-02",
            ok=False)
    assert r.exit_code == 2 and "--to" in r.output
    r = cli("metrics", "compute", "--home", home, "--from", "2025-W03", ok=False)
    assert r.exit_code == 2 and "2025-W03" in r.output


# -- incremental = full, whatever arrives later --------------------------------------------

ORDER_DAYS = [f"2025-0{m}-{d:02d} 10:00" for m in (2, 3, 4) for d in (3, 14, 27)]


@settings(max_examples=4, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(later=st.lists(st.tuples(st.sampled_from(["member:u2", "wecom:u1", "pos:new"]),
                                st.sampled_from(ORDER_DAYS)), min_size=1, max_size=4))
def test_incremental_equals_full(later):
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        with Workspace.init(tmp / "a") as a, Workspace.init(tmp / "b") as b:
            march_brand().load(a, tmp)
            march_brand().load(b, tmp)
            compute_metrics(a, "month", "2025-01", "2025-04")
            extra = Brand()
            for key, at in later:
                extra.order(key, at, 25)
            (tmp / "x").mkdir(exist_ok=True)
            extra.load(a, tmp / "x")
            extra.load(b, tmp / "x")
            compute_metrics(a, "month", "2025-01", "2025-04")
            compute_metrics(b, "month", "2025-01", "2025-04")
            assert snapshot(a) == snapshot(b)
