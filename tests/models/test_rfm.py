"""RFM scores and value segments (DOMAIN.md §9) on hand-built buyers, snapshot = end of
2025-03-31 (Asia/Shanghai), i.e. the instant 2025-04-01 00:00 local."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import ibis
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from siyu.config import Settings, load_settings
from siyu.models.periods import period_of, periods_between
from siyu.models.rfm import (
    SEGMENT_ORDER,
    rfm,
    rfm_period_segments,
    rfm_periods,
    rfm_segments,
)
from siyu.models.sources import Sources
from tests.models.builder import Brand

AS_OF = datetime(2025, 3, 31, 16, 0, tzinfo=UTC)  # 2025-04-01 00:00 +08


def rfm_brand() -> Brand:
    b = Brand()
    # hv1: five purchase days up to the last day; an old first order (outside the lookback)
    b.order("member:hv1", "2023-01-01 10:00", 10)
    for d in (27, 28, 29, 30, 31):
        b.order("member:hv1", f"2025-03-{d} 10:00", 200)
    b.order("member:hv1", "2025-04-01 08:00", 5000)  # after the snapshot: ignored
    # hv2: four purchase days, last on 30 March
    for day in ("2024-12-01", "2025-01-01", "2025-02-01", "2025-03-30"):
        b.order("member:hv2", f"{day} 10:00", 200)
    # new1: first-ever order 12 days ago -> new
    b.order("member:new1", "2025-03-20 10:00", 50)
    # oldnew: one order in the lookback, but the first-ever order is older -> not new
    b.order("member:oldnew", "2023-06-01 10:00", 40).order("member:oldnew", "2025-03-25 10:00",
                                                            60)
    # warn1: four purchase days long ago; the first at the very start of the lookback
    for day in ("2024-04-01 00:00", "2024-05-10 10:00", "2024-05-20 10:00",
                "2024-06-01 10:00"):
        b.order("member:warn1", day, 225)
    # pot1: first-ever order 31 days ago, just outside the 30 new days
    b.order("member:pot1", "2025-03-01 10:00", 30)
    # dorm1 / dorm2: equal in R, F and M: ties broken by consumer_id
    b.order("member:dorm1", "2024-05-01 10:00", 20).order("member:dorm2", "2024-05-01 10:00", 20)
    # ref1: the refunded order counts nowhere (not in R, F or M)
    b.order("member:ref1", "2025-02-01 10:00", 100)
    b.order("member:ref1", "2025-03-31 10:00", 999, status="refunded")
    # tk: one person with two keys -> one buyer; a ¥0 trial is a purchase day: F = 3, M = 150
    b.link("member:tk", "phone:13800000010")
    b.order("phone:13800000010", "2024-10-01 10:00", 0)
    b.order("member:tk", "2025-03-10 10:00", 70).order("phone:13800000010", "2025-03-15 10:00", 80)
    # not buyers: last order just before the lookback; only a refunded order
    b.order("member:gone", "2024-03-31 23:30", 500)
    b.order("member:refonly", "2025-03-30 10:00", 500, status="refunded")
    return b


#            R    F  M     r  f  m  segment
EXPECTED = {
    "hv1": (1, 5, 1000, 5, 5, 5, "high_value_loyal"),
    "hv2": (2, 4, 800, 5, 4, 4, "high_value_loyal"),
    "new1": (12, 1, 50, 4, 3, 2, "new"),
    "oldnew": (7, 1, 60, 4, 1, 3, "potential_repeat"),
    "warn1": (304, 4, 900, 2, 5, 5, "churn_warning"),
    "pot1": (31, 1, 30, 3, 2, 2, "potential_repeat"),
    "dorm1": (335, 1, 20, 1, 2, 1, "dormant"),
    "dorm2": (335, 1, 20, 1, 3, 1, "churn_warning"),  # its consumer_id ranks it f = 3
    "ref1": (59, 1, 100, 2, 1, 3, "churn_warning"),
    "tk": (17, 3, 150, 3, 4, 4, "potential_repeat"),
}


@pytest.fixture
def brand_ws(ws, tmp_path):
    rfm_brand().load(ws, tmp_path)
    return ws


def by_person(ws, as_of=AS_OF) -> dict[str, tuple]:
    df = rfm(Sources.of(ws), as_of).execute()
    idm = ws.warehouse.ibis.table("identity_map").execute()
    person = {r.consumer_id: r.key.split(":", 1)[1] for r in idm.itertuples()
              if r.key.startswith("member:")}
    return {person[r.consumer_id]: (int(r.recency_days), int(r.frequency), r.monetary,
                                    int(r.r), int(r.f), int(r.m), r.segment)
            for r in df.itertuples()}


def test_every_buyer_scored_and_segmented(brand_ws):
    assert by_person(brand_ws) == EXPECTED


def test_tied_values_ranked_by_consumer_id(brand_ws):
    df = rfm(Sources.of(brand_ws), AS_OF).execute()
    ones = df[df.frequency == 1].sort_values("consumer_id")
    assert list(ones.f) == [1, 1, 2, 2, 3, 3]  # six buyers with F = 1, in id order


def test_segment_summary(brand_ws):
    seg = rfm_segments(rfm(Sources.of(brand_ws), AS_OF)).execute().set_index("segment")
    assert seg.buyers.to_dict() == {"high_value_loyal": 2, "new": 1, "potential_repeat": 3,
                                    "churn_warning": 3, "dormant": 1}
    assert seg.monetary.to_dict() == {"high_value_loyal": 1800, "new": 50,
                                      "potential_repeat": 240, "churn_warning": 1020,
                                      "dormant": 20}
    assert seg.gmv_share["high_value_loyal"] == pytest.approx(1800 / 3130)
    assert seg.gmv_share.sum() == pytest.approx(1.0)


def test_new_days_setting_and_an_earlier_snapshot(brand_ws):
    brand_ws.settings = load_settings(brand_ws.settings_path, rfm_new_days=31)
    assert by_person(brand_ws)["pot1"][-1] == "new"
    # at the end of 2025-03-19 new1 has not bought yet, hv1's only earlier order is from 2023
    got = by_person(brand_ws, datetime(2025, 3, 19, 16, 0, tzinfo=UTC))
    assert "new1" not in got and "hv1" not in got and "gone" in got
    assert got["pot1"][:3] == (19, 1, 30)


# --- properties on an in-memory warehouse (no import pipeline: fast) ----------------------

def test_many_periods_in_one_query(brand_ws):
    """rfm_periods (what `siyu metrics compute` stores) = rfm at the end of each period."""
    src = Sources.of(brand_ws)
    periods = periods_between("2024-12", "2025-04", zone=brand_ws.settings.zone)
    many = rfm_periods(src, periods)
    segs = rfm_period_segments(many).to_pyarrow().to_pylist()
    rows = many.to_pyarrow().to_pylist()
    for p in periods:
        one = rfm(src, p.end_utc).to_pyarrow().to_pylist()
        mine = [{k: v for k, v in r.items() if k != "period"} for r in rows
                if r["period"] == str(p)]
        assert sorted(mine, key=repr) == sorted(one, key=repr), str(p)
        one_s = rfm_segments(rfm(src, p.end_utc)).to_pyarrow().to_pylist()
        mine_s = [{k: v for k, v in r.items() if k != "period"} for r in segs
                  if r["period"] == str(p)]
        assert sorted(mine_s, key=repr) == sorted(one_s, key=repr), str(p)
    march = [r for r in rows if r["period"] == "2025-03"]
    assert len(march) == len(EXPECTED) and march  # the buyers of the hand-built brand


def memory_sources(orders: list[tuple[str, datetime, float, str]]) -> Sources:
    """Sources over a DuckDB in memory with ``orders`` (key, paid_at, amount, status) and an
    identity map giving each key its own consumer."""
    con = ibis.duckdb.connect()
    con.raw_sql("SET TimeZone = 'Asia/Shanghai'")
    keys = sorted({o[0] for o in orders})
    con.create_table("identity_map", pd.DataFrame(
        {"key": keys, "consumer_id": [f"c{k}" for k in keys]}))
    con.create_table("orders", pd.DataFrame(
        {"order_id": [f"o{i}" for i in range(len(orders))],
         "consumer_key": [o[0] for o in orders],
         "paid_at": pd.to_datetime([o[1] for o in orders], utc=True),
         "amount": [Decimal(str(o[2])) for o in orders],
         "status": [o[3] for o in orders]}),
        schema=ibis.schema({"order_id": "string", "consumer_key": "string",
                            "paid_at": "timestamp('UTC')", "amount": "decimal(18, 2)",
                            "status": "string"}))
    return Sources(con, Settings())


order_rows = st.lists(
    st.tuples(st.sampled_from([f"k{i:02d}" for i in range(23)]),
              st.integers(min_value=0, max_value=400 * 24),  # hours before the snapshot
              st.sampled_from([0, 10, 10, 25.5, 99, 300]),
              st.sampled_from(["paid", "paid", "paid", "refunded"])),
    min_size=1, max_size=60)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=order_rows, perm=st.randoms(use_true_random=False))
def test_quintiles_and_row_order(rows, perm):
    orders = [(k, AS_OF - timedelta(hours=h), a, s) for k, h, a, s in rows]
    df = rfm(memory_sources(orders), AS_OF).execute()
    n = len(df)
    for col in ("r", "f", "m"):
        assert df[col].between(1, 5).all()
        sizes = Counter(df[col])
        for score in range(1, 6):
            assert abs(sizes.get(score, 0) - n / 5) < 1  # ⌊n/5⌋ or ⌈n/5⌉
    assert set(df.segment) <= set(SEGMENT_ORDER)
    shuffled = list(orders)
    perm.shuffle(shuffled)
    again = rfm(memory_sources(shuffled), AS_OF).execute()
    cols = ["consumer_id", "recency_days", "frequency", "monetary", "r", "f", "m", "segment"]
    pd.testing.assert_frame_equal(df[cols].sort_values("consumer_id").reset_index(drop=True),
                                  again[cols].sort_values("consumer_id").reset_index(drop=True))


def test_snapshot_instant_is_the_end_of_the_local_day():
    zone = Settings().zone
    assert period_of(AS_OF.astimezone(zone).date() - timedelta(days=1), "day",
                     zone).end_utc == AS_OF


# --- CLI ----------------------------------------------------------------------------------

def test_cli_json_and_out_files(brand_ws, cli, tmp_path):
    home = str(brand_ws.home)
    brand_ws.close()
    d = cli.json("metrics", "rfm", "--as-of", "2025-03-31", "--home", home,
                 "--out", tmp_path / "rfm.csv")
    assert (d["as_of"], d["buyers"]) == ("2025-03-31", 10)
    assert d["snapshot"].startswith("2025-03-31T16:00:00")
    assert {k: v["count"] for k, v in d["segments"].items()} == {
        "new": 1, "high_value_loyal": 2, "churn_warning": 3, "potential_repeat": 3,
        "dormant": 1}
    assert d["segments"]["dormant"]["gmv_share"] == pytest.approx(20 / 3130, abs=1e-6)
    csv = pd.read_csv(tmp_path / "rfm.csv")
    assert list(csv.columns) == ["consumer_id", "recency_days", "frequency", "monetary", "r",
                                 "f", "m", "segment"]
    assert len(csv) == 10 and csv.monetary.sum() == pytest.approx(3130)
    cli("metrics", "rfm", "--as-of", "2025-03-31", "--home", home,
        "--out", tmp_path / "x" / "rfm.parquet")
    pq = pd.read_parquet(tmp_path / "x" / "rfm.parquet")
    assert sorted(pq.segment) == sorted(csv.segment)
    # a day before any order: no buyers, every segment empty with a null share
    d = cli.json("metrics", "rfm", "--as-of", "2020-01-01", "--home", home)
    assert d["buyers"] == 0 and d["segments"]["new"] == {"count": 0, "gmv": 0.0,
                                                          "gmv_share": None}


def test_cli_table_and_errors(brand_ws, cli, tmp_path):
    home = str(brand_ws.home)
    brand_ws.close()
    r = cli("metrics", "rfm", "--as-of", "2025-03-31", "--home", home)
    for text in ("新客 new", "高价值忠诚客 high-value loyal", "流失预警客 churn warning",
                 "潜力复购客 potential repeat", "沉睡客 dormant"):
        assert text in r.stdout
    assert cli("metrics", "rfm", "--as-of", "31/03/2025", "--home", home,
               ok=False).exit_code == 2
    assert cli("metrics", "rfm", "--as-of", "2025-03-31", "--home", home, "--out",
               tmp_path / "rfm.xlsx", ok=False).exit_code == 2
    from siyu.workspace import Workspace

    fresh = Workspace.init(tmp_path / "fresh")
    fresh.close()
    r = cli("metrics", "rfm", "--as-of", "2025-03-31", "--home", str(fresh.home), ok=False)
    assert r.exit_code == 1 and "siyu identity resolve" in r.output
    r = cli("metrics", "rfm", "--help")
    assert "DATE+1" in r.stdout


def test_a_window_starting_inside_a_local_day(tmp_path):
    """New York: the 365 × 24 h window of day 2025-03-09 (ends 2025-03-10 00:00 EDT) starts at
    2024-03-09 23:00 EST, inside a local day — the per-day shortcut cannot be used, and only
    the 23:30 order of that day is in the window. The days of 2025-03-01…05 have whole-day
    windows (the shortcut); both give rfm() at each end."""
    from siyu.workspace import Workspace

    ws = Workspace.init(tmp_path / "ws", brand_name="测试品牌", timezone="America/New_York")
    try:
        b = Brand()
        b.order("member:edge", "2024-03-09 22:30", 40).order("member:edge", "2024-03-09 23:30",
                                                             60)
        b.order("member:edge", "2025-03-01 10:00", 5)
        b.order("member:other", "2024-03-01 12:00", 7).order("member:other", "2025-03-02 09:00",
                                                             8)
        b.load(ws, tmp_path)
        src = Sources.of(ws)
        zone = ws.settings.zone
        for first, last in (("2025-03-01", "2025-03-05"), ("2025-03-08", "2025-03-10")):
            days = periods_between(period_of(date.fromisoformat(first), "day", zone),
                                   period_of(date.fromisoformat(last), "day", zone), zone=zone)
            rows = rfm_periods(src, days).to_pyarrow().to_pylist()
            for p in days:
                one = rfm(src, p.end_utc).to_pyarrow().to_pylist()
                mine = [{k: v for k, v in r.items() if k != "period"} for r in rows
                        if r["period"] == str(p)]
                assert sorted(mine, key=repr) == sorted(one, key=repr), str(p)
        [edge] = [r for r in rows if r["period"] == "2025-03-09" and r["frequency"] == 2]
        assert float(edge["monetary"]) == 65.0  # 60 (23:30, in) + 5; the 22:30 order is out
    finally:
        ws.close()
