"""The value service over a real warehouse: summaries, cycles, the layering map, the CLI."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from siyu.models.periods import to_date
from siyu.models.purchases import purchase_cycles
from siyu.models.sources import Sources
from siyu.value.service import warehouse_summary
from siyu.value.summary import rfm_summary
from siyu.workspace import Workspace
from tests.models.builder import Brand
from tests.models.test_tiers import march_brand

D = dt.date


def _people(ws) -> dict[str, str]:
    idm = ws.warehouse.ibis.table("identity_map").execute()
    return {r.consumer_id: r.key.split(":", 1)[1] for r in idm.itertuples()}


@pytest.fixture
def shop(ws, tmp_path):
    b = Brand()
    b.rel("member:a", "membership", "start", "2025-01-01 10:00")
    # a: two orders on 1 Jan (one day, 30), 11 Jan (20), a refund on 15 Jan, 5 Feb (holdout)
    b.order("member:a", "2025-01-01 10:00", 10).order("member:a", "2025-01-01 22:00", 20)
    b.order("member:a", "2025-01-11 09:00", 20)
    b.order("member:a", "2025-01-15 09:00", 99, status="refunded")
    b.order("member:a", "2025-02-05 09:00", 40)
    # b: one order on 20 Jan; c: first order after the calibration end
    b.order("member:b", "2025-01-20 23:30", 7)
    b.order("member:c", "2025-02-10 09:00", 5)
    b.load(ws, tmp_path)
    return ws


def test_warehouse_summary_exact(shop):
    s = warehouse_summary(shop, D(2025, 1, 31), observation_end=D(2025, 2, 28))
    who = _people(shop)
    got = {who[c]: (int(f), r, t, m, int(h)) for c, f, r, t, m, h in zip(
        s.consumer_id, s.frequency, s.recency, s.T, s.monetary, s.holdout_frequency,
        strict=True)}
    # a: days 1 Jan (30) and 11 Jan (20): x=1, t_x=10, T=30, m̄=20 (first day excluded)
    assert got == {"a": (1, 10.0, 30.0, 20.0, 1), "b": (0, 0.0, 11.0, 0.0, 0)}
    assert s.calibration_start == D(2025, 1, 1) and s.calibration_end == D(2025, 1, 31)


@settings(max_examples=5, deadline=None, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from("pqrs"), st.integers(0, 59), st.integers(0, 23),
                          st.integers(1, 500)), min_size=1, max_size=25))
def test_warehouse_summary_equals_the_numpy_summary(orders):
    """The Ibis summary in the warehouse and :func:`rfm_summary` over the same log agree
    (each example imports into a fresh workspace: few examples, no shrinking)."""
    orders = [("p", 0, 12, 10), *orders]  # someone has bought by the calibration end
    start = dt.datetime(2025, 3, 1)
    log = {"consumer_id": [], "date": [], "amount": []}
    b = Brand()
    for who, day, hour, amount in orders:
        at = start + dt.timedelta(days=day, hours=hour)
        b.order(f"member:{who}", at.strftime("%Y-%m-%d %H:%M"), amount)
        log["consumer_id"].append(who)
        log["date"].append(at.date())
        log["amount"].append(float(amount))
    end = D(2025, 4, 10)
    with tempfile.TemporaryDirectory() as d, Workspace.init(Path(d) / "w") as ws:
        b.load(ws, Path(d))
        got = warehouse_summary(ws, end, observation_end=D(2025, 4, 30))
        who = _people(ws)
        want = rfm_summary(log, calibration_end=end, observation_end=D(2025, 4, 30))
    mine = {who[c]: (int(f), r, t, round(m, 6), int(h)) for c, f, r, t, m, h in zip(
        got.consumer_id, got.frequency, got.recency, got.T, got.monetary,
        got.holdout_frequency, strict=True)}
    ref = {c: (int(f), r, t, round(m, 6), int(h)) for c, f, r, t, m, h in zip(
        want.consumer_id, want.frequency, want.recency, want.T, want.monetary,
        want.holdout_frequency, strict=True)}
    assert mine == ref


def test_purchase_cycles_shrink_towards_the_category_median(ws, tmp_path):
    b = Brand()
    item = iter(range(100))

    def buy(key: str, day: str, category: str) -> None:
        oid = f"o{next(item)}"
        b.order(key, f"2025-03-{day} 10:00", 10, order_id=oid)
        b.add("order_items", order_id=oid, sku=f"s-{category}", quantity=1, unit_price=10,
              category=category)

    for day in ("01", "11", "21"):        # x: intervals 10, 10 → mean 10
        buy("member:x", day, "tea")
    for day in ("01", "05"):              # y: one interval of 4
        buy("member:y", day, "tea")
    buy("member:z", "20", "tea")          # z: one purchase day → the median
    buy("member:z", "20", "cup")          # a category with no interval anywhere
    b.load(ws, tmp_path)
    t = purchase_cycles(Sources.of(ws), D(2025, 3, 31), prior_days=2).execute()
    who = _people(ws)
    got = {(who[r.consumer_id], r.category): r for r in t.itertuples()}
    x, y, z = got["x", "tea"], got["y", "tea"], got["z", "tea"]
    assert x.category_median == pytest.approx(7.0)             # median of means 10 and 4
    assert x.cycle_days == pytest.approx((2 * 10 + 2 * 7) / 4)  # 8.5
    assert y.cycle_days == pytest.approx((1 * 4 + 2 * 7) / 3)   # 6.0
    assert z.cycle_days == pytest.approx(7.0) and z.intervals == 0
    day = pd.Timestamp
    assert day(x.next_due) == day(D(2025, 3, 30))  # 21 March + 8.5 days, halves up
    assert day(y.next_due) == day(D(2025, 3, 11)) and day(z.next_due) == day(D(2025, 3, 27))
    cup = got["z", "cup"]
    assert cup.cycle_days != cup.cycle_days or cup.cycle_days is None  # null: no rhythm known


def test_layering_map_cells_on_the_march_brand(ws, tmp_path):
    from siyu.models.layers import consumer_layers, layer_cells

    march_brand().load(ws, tmp_path)
    per = consumer_layers(Sources.of(ws), to_date(D(2025, 3, 31), "month", ws.settings.zone))
    df = per.execute()
    assert len(df) == 14 and set(df.band) <= {"none", "low", "mid", "high"}
    buyers = df[df.own > 0]
    # terciles by rank: each band holds ⌊n/3⌋ or ⌈n/3⌉ buyers, higher bands higher own value
    sizes = buyers.band.value_counts().to_dict()
    n = len(buyers)
    assert sorted(sizes.values()) in ([n // 3] * 3, sorted([n // 3, n // 3, n - 2 * (n // 3)]),
                                      sorted([n // 3, n - 2 * (n // 3) - 1 + 1, n // 3]))
    assert buyers[buyers.band == "low"].own.max() <= buyers[buyers.band == "mid"].own.min()
    assert buyers[buyers.band == "mid"].own.max() <= buyers[buyers.band == "high"].own.min()
    who = _people(ws)
    props = {who[c] for c in df[df.propagator].consumer_id}
    assert props == {"u6"}  # u6's share converted within the window; u11's on day 8 did not
    cells = layer_cells(per).execute()
    assert int(cells.consumers.sum()) == 14
    assert float(cells.total.sum()) == pytest.approx(float(df.clv.sum()))


# -- the CLI on a generated brand -----------------------------------------------------------

@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from typer.testing import CliRunner

    from siyu.cli import app

    d = tmp_path_factory.mktemp("clv") / "demo"
    r = CliRunner().invoke(app, ["demo", "--dir", str(d), "--consumers", "3000", "--days",
                                 "240", "--seed", "5", "--json"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return d


def test_clv_commands_end_to_end(demo, cli, tmp_path):
    r = cli("clv", "predict", "--home", demo, ok=False)
    if (demo / "models").exists():  # another test fitted first
        assert r.exit_code == 0
    else:
        assert r.exit_code == 2 and "siyu clv fit" in r.output
    fit = cli.json("clv", "fit", "--home", demo, "--calibration-end", "2025-10-31")
    assert fit["calibration_end"] == "2025-10-31" and fit["consumers"] > 500
    assert set(fit["bgnbd"]["params"]) == {"r", "alpha", "a", "b"}
    assert set(fit["gamma_gamma"]["params"]) == {"p", "q", "gamma"}
    for m in ("bgnbd", "gamma_gamma"):
        saved = json.loads(Path(next(p for p in fit["saved"] if m in p)).read_text())
        assert saved["data"]["calibration_end"] == "2025-10-31"
    out = tmp_path / "pred.parquet"
    pred = cli.json("clv", "predict", "--home", demo, "--horizon", "180", "--out", out)
    t = pq.read_table(out)
    assert t.num_rows == pred["consumers"] > fit["consumers"]  # later buyers are predicted too
    assert pred["horizon_days"] == 180 and sum(d["consumers"] for d in pred["churn_deciles"]) \
        == pred["consumers"]
    assert abs(sum(t["total"].to_pylist()) - pred["total"]) < 1
    with Workspace.open(demo) as ws:
        stored = ws.warehouse.raw.execute("SELECT count(*) FROM clv_predictions").fetchall()
    assert stored[0][0] == pred["consumers"]

    ev = cli.json("clv", "evaluate", "--home", demo, "--calibration-end", "2025-10-31",
                  "--holdout-end", "2025-12-31")
    assert [g["frequency"] for g in ev["groups"]] == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert sum(g["consumers"] for g in ev["groups"]) == ev["consumers"]
    assert ev["total_error"] == pytest.approx(ev["predicted_total"] - ev["actual_total"],
                                              abs=1e-3)

    cyc = cli.json("clv", "cycles", "--home", demo, "--out", tmp_path / "c.csv")
    assert cyc["rows"] > 0 and (tmp_path / "c.csv").read_text().startswith('"consumer_id"')

    r = cli("clv", "evaluate", "--home", demo, "--calibration-end", "2025-12-31",
            "--holdout-end", "2025-10-31", ok=False)
    assert r.exit_code == 2 and "--holdout-end" in r.output
    r = cli("clv", "predict", "--home", demo, "--as-of", "31/12/2025", ok=False)
    assert r.exit_code == 2 and "31/12/2025" in r.output
    r = cli("clv", "predict", "--home", demo, "--out", tmp_path / "p.txt", ok=False)
    assert r.exit_code == 2 and ".csv" in r.output


def test_clv_layers_compare_and_split(demo, cli, tmp_path):
    with Workspace.open(demo) as ws:
        ids = [r[0] for r in ws.warehouse.raw.execute(
            "SELECT DISTINCT consumer_id FROM identity_map ORDER BY 1 LIMIT 400").fetchall()]
        key = ws.warehouse.raw.execute(
            "SELECT key FROM identity_map WHERE consumer_id = ?", [ids[-1]]).fetchall()[0][0]
    (tmp_path / "t.txt").write_text("consumer_id\n" + "\n".join(ids[:200]) + "\n")
    (tmp_path / "c.csv").write_text("\n".join(ids[200:399] + [key]) + "\n")
    got = cli.json("clv", "layers", "--home", demo, "--as-of", "2025-12-31", "--compare-to",
                   "2025-11-30", "--treated", tmp_path / "t.txt", "--control",
                   tmp_path / "c.csv")
    assert got["tier_window"] == "2025-12" and got["compare_to"]["tier_window"] == "2025-11"
    a = got["all"]
    assert a["consumers"] == sum(c["consumers"] for c in a["cells"]) > 0
    assert a["total"] == pytest.approx(sum(c["total"] for c in a["cells"]), abs=0.05)
    assert got["treated"]["consumers"] <= 200 and got["control"]["consumers"] <= 200
    ch = got["change"]["all"]
    assert ch["total"] == pytest.approx(a["total"] - got["compare_to"]["all"]["total"],
                                        abs=0.01)
    assert sum(c["consumers"] for c in ch["cells"]) == ch["consumers"]
    assert "treated_minus_control_mean" in got["change"]
    by_expr = cli.json("clv", "layers", "--home", demo, "--as-of", "2025-12-31",
                       "--compare-to", "2025-11-30", "--treated-audience", "tier >= 2",
                       "--control-audience", "tier = 1")
    # the groups are taken at the campaign's start (--compare-to): tier ≥ 2 there
    assert by_expr["compare_to"]["treated"]["consumers"] == sum(
        c["consumers"] for c in by_expr["compare_to"]["all"]["cells"] if c["tier"] >= 2)
    r = cli("clv", "layers", "--home", demo, "--as-of", "2025-12-31", "--treated",
            tmp_path / "missing.txt", ok=False)
    assert r.exit_code == 2 and "missing.txt" in r.output


def test_fit_without_repeat_buyers_is_a_clear_error(shop, cli):
    home = shop.home
    shop.close()
    r = cli("clv", "fit", "--home", home, "--calibration-end", "2025-01-05", ok=False)
    assert r.exit_code == 1 and "repeat purchase" in r.output
    r = cli("clv", "fit", "--home", home, "--calibration-end", "2024-12-31", ok=False)
    assert r.exit_code == 1 and "no paid orders on or before 2024-12-31" in r.output
