"""Daily monitoring (DOMAIN.md §8) on hand-built consumers, March 2025 (Asia/Shanghai)."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from siyu.models.daily import daily
from siyu.models.periods import parse_period, periods_between
from siyu.models.sources import Sources
from siyu.workspace import Workspace
from tests.models.builder import Brand

LONG = "2024-06-01 10:00"
FEB = "2025-02-10 10:00"


def daily_brand() -> Brand:
    b = Brand()
    # a: a guide friend since long ago (not new); views and likes on 10 March
    b.rel("wecom:a", "guide", "start", LONG, "g1")
    b.add("interactions", consumer_key="wecom:a", field="mini_program", type="view",
          occurred_at="2025-03-10 10:00")
    b.add("interactions", consumer_key="wecom:a", field="official_account", type="like",
          occurred_at="2025-03-10 11:00")
    # b: new on 10 March, leaves the group and re-joins the same day; visits
    b.rel("wecom:b", "group_chat", "start", "2025-03-10 09:00", "grp1")
    b.rel("wecom:b", "group_chat", "end", "2025-03-10 12:00", "grp1")
    b.rel("wecom:b", "group_chat", "start", "2025-03-10 18:00", "grp1")
    b.add("interactions", consumer_key="wecom:b", field="mini_program", type="visit",
          occurred_at="2025-03-10 19:00")
    # c: only a brand message (message_sent) -> not active
    b.rel("wecom:c", "guide", "start", FEB, "g1")
    b.add("interactions", consumer_key="wecom:c", field="guide", type="message_sent",
          occurred_at="2025-03-10 10:00")
    # d: member, buys, and writes a message under a second key (one person after OneID)
    b.rel("member:d", "membership", "start", FEB).link("member:d", "openid:d")
    b.order("member:d", "2025-03-10 10:00", 100)
    b.add("interactions", consumer_key="openid:d", field="guide", type="message",
          occurred_at="2025-03-10 10:30")
    # e: member whose only order is refunded -> not a buyer
    b.rel("member:e", "membership", "start", FEB)
    b.order("member:e", "2025-03-10 10:00", 50, status="refunded")
    # f: views, then unfollows the official account, its only relationship -> churned
    b.rel("openid:f", "official_account", "start", FEB, "oa1")
    b.add("interactions", consumer_key="openid:f", field="official_account", type="view",
          occurred_at="2025-03-10 08:00")
    b.rel("openid:f", "official_account", "end", "2025-03-10 09:00", "oa1")
    # g: a buyer outside the private domain
    b.order("pos:g", "2025-03-10 10:00", 30)
    # h: new on 10 March through a shop follow
    b.rel("openid:h", "shop", "start", "2025-03-10 15:00")
    # i: leaves a group but stays a guide friend -> a group exit, not churned
    b.rel("wecom:i", "guide", "start", FEB, "g1").rel("wecom:i", "group_chat", "start", FEB,
                                                        "grp1")
    b.rel("wecom:i", "group_chat", "end", "2025-03-10 20:00", "grp1")
    # j: new on 11 March; k: new on 12 March, gone on 13 March
    b.rel("wecom:j", "guide", "start", "2025-03-11 10:00", "g1")
    b.rel("wecom:k", "guide", "start", "2025-03-12 10:00", "g1")
    b.rel("wecom:k", "guide", "end", "2025-03-13 10:00", "g1")
    # m: in the private domain since February, leaves and re-joins on 10 March -> not churned
    b.rel("wecom:m", "guide", "start", FEB, "g2").rel("wecom:m", "guide", "end",
                                                       "2025-03-10 10:00", "g2")
    b.rel("wecom:m", "guide", "start", "2025-03-10 16:00", "g2")
    return b


@pytest.fixture
def brand_ws(ws, tmp_path):
    daily_brand().load(ws, tmp_path)
    return ws


def rows(ws, first, last=None) -> dict[str, dict]:
    zone = ws.settings.zone
    periods = periods_between(first, last or first, zone=zone)
    df = daily(Sources.of(ws), periods).execute()
    out = {}
    for r in df.to_dict("records"):
        out[r["period"]] = {k: (None if isinstance(v, float) and math.isnan(v) else v)
                            for k, v in r.items()}
    return out


COUNTS = ("new_users", "capital", "active", "engaged", "buyers", "churn_base", "churned",
          "group_exits", "unfollows")
RATES = ("activity_rate", "interaction_rate", "conversion_rate", "churn_rate")


def pick(row, names):
    return tuple(row[n] for n in names)


def test_the_tenth_of_march(brand_ws):
    r = rows(brand_ws, "2025-03-10")["2025-03-10"]
    # capital at end: a b c d e h i m; at start: a c d e f i m
    assert pick(r, COUNTS) == (2, 8, 3, 2, 1, 7, 1, 2, 1)
    assert pick(r, RATES) == pytest.approx((3 / 8, 2 / 8, 1 / 8, 1 / 7))


def test_several_days_in_one_query(brand_ws):
    got = rows(brand_ws, "2025-03-10", "2025-03-13")
    assert list(got) == ["2025-03-10", "2025-03-11", "2025-03-12", "2025-03-13"]
    d11, d12, d13 = got["2025-03-11"], got["2025-03-12"], got["2025-03-13"]
    assert pick(d11, COUNTS) == (1, 9, 0, 0, 0, 8, 0, 0, 0)
    assert pick(d11, RATES) == (0.0, 0.0, 0.0, 0.0)
    assert pick(d12, COUNTS) == (1, 10, 0, 0, 0, 9, 0, 0, 0)
    # k leaves its only relationship (a guide, neither a group exit nor an unfollow)
    assert pick(d13, COUNTS) == (0, 9, 0, 0, 0, 10, 1, 0, 0)
    assert d13["churn_rate"] == pytest.approx(0.1)


def test_a_day_with_no_capital_has_null_rates(brand_ws):
    r = rows(brand_ws, "2024-01-01")["2024-01-01"]
    assert pick(r, COUNTS) == (0,) * 9
    assert pick(r, RATES) == (None,) * 4


def test_a_week_takes_churn_over_the_capital_at_its_start(brand_ws):
    r = rows(brand_ws, "2025-W11")["2025-W11"]
    # C = a c d e f i m (at Monday 10 March 00:00); k joined and left inside the week, so it
    # is neither in C nor churned; capital at end: a b c d e h i j m
    assert pick(r, COUNTS) == (4, 9, 3, 2, 1, 7, 1, 2, 1)
    assert pick(r, RATES) == pytest.approx((3 / 9, 2 / 9, 1 / 9, 1 / 7))


# -- property: every rate is in [0, 1] or null ---------------------------------------------

KEYS = ["wecom:p1", "wecom:p2", "member:p3", "openid:p4"]
DAYS = ["2025-03-01", "2025-03-02", "2025-03-03"]
FIELDS = ["guide", "group_chat", "membership", "official_account"]
TYPES = ["visit", "like", "message_sent", "message"]

event = st.tuples(st.sampled_from(KEYS), st.sampled_from(DAYS), st.integers(0, 23))
rel_event = st.tuples(event, st.sampled_from(FIELDS), st.sampled_from(["start", "end"]))
ia_event = st.tuples(event, st.sampled_from(TYPES))
order_event = st.tuples(event, st.sampled_from(["paid", "refunded"]))


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(rel_event, max_size=10), st.lists(ia_event, max_size=6),
       st.lists(order_event, max_size=4))
def test_rates_are_shares_or_null(rels, ias, orders):
    b = Brand()
    b.add("consumers", consumer_key=KEYS[0])  # a brand with no events at all is fine too
    for (key, day, hour), field, action in rels:
        b.rel(key, field, action, f"{day} {hour:02d}:00", "x")
    for (key, day, hour), typ in ias:
        b.add("interactions", consumer_key=key, field="mini_program", type=typ,
              occurred_at=f"{day} {hour:02d}:30")
    for (key, day, hour), status in orders:
        b.order(key, f"{day} {hour:02d}:15", 10, status=status)
    with tempfile.TemporaryDirectory() as tmp:
        w = Workspace.init(Path(tmp) / "ws", brand_name="p")
        try:
            b.load(w, Path(tmp))
            zone = w.settings.zone
            periods = periods_between("2025-02-28", "2025-03-04", zone=zone)
            periods.append(parse_period("2025-W09", zone=zone))
            df = daily(Sources.of(w), periods).execute()
        finally:
            w.close()
    assert len(df) == len(periods)
    for r in df.to_dict("records"):
        for name in RATES:
            v = r[name]
            assert v is None or math.isnan(v) or 0.0 <= v <= 1.0, (name, r)
        assert r["active"] <= r["capital"] and r["engaged"] <= r["active"]
        assert r["buyers"] <= r["capital"] and r["churned"] <= r["churn_base"]
        assert (r["capital"] == 0) == math.isnan(r["activity_rate"])


# -- CLI -----------------------------------------------------------------------------------

def test_cli_daily_json(cli, brand_ws):
    brand_ws.close()  # the CLI opens the workspace itself
    home = str(brand_ws.home)
    data = cli.json("metrics", "daily", "--from", "2025-03-10", "--to", "2025-03-11",
                    "--home", home)
    assert data == {"days": [
        {"date": "2025-03-10", "new_users": 2, "capital": 8, "activity_rate": 0.375,
         "interaction_rate": 0.25, "conversion_rate": 0.125, "churn_rate": round(1 / 7, 6),
         "group_exits": 2, "unfollows": 1},
        {"date": "2025-03-11", "new_users": 1, "capital": 9, "activity_rate": 0.0,
         "interaction_rate": 0.0, "conversion_rate": 0.0, "churn_rate": 0.0,
         "group_exits": 0, "unfollows": 0},
    ]}
    empty = cli.json("metrics", "daily", "--from", "2024-01-01", "--home", home)["days"]
    assert empty == [{"date": "2024-01-01", "new_users": 0, "capital": 0,
                      "activity_rate": None, "interaction_rate": None,
                      "conversion_rate": None, "churn_rate": None, "group_exits": 0,
                      "unfollows": 0}]


def test_cli_daily_table(cli, brand_ws):
    brand_ws.close()
    r = cli("metrics", "daily", "--from", "2025-03-10", "--to", "2025-03-11",
            "--home", str(brand_ws.home))
    # labels in Chinese with the English words below (one word a line keeps columns narrow)
    for label in ("新增用户", "users", "活跃率", "activity", "互动率", "interaction", "转化率",
                  "conversion", "流失率", "churn", "退群", "取关", "unfollows", "2025-03-11",
                  "37.5%", "14.3%"):
        assert label in r.stdout, label


def test_cli_daily_bad_range(cli, brand_ws):
    brand_ws.close()
    r = cli("metrics", "daily", "--from", "2025-03-10", "--to", "2025-03-09",
            "--home", str(brand_ws.home), ok=False)
    assert r.exit_code == 2


@pytest.mark.parametrize("args", [
    ("daily", "--from", "2025-03-10"),
    ("health", "--period", "2025-03"),
    ("cohorts", "--grain", "week"),
])
def test_cli_needs_identity_resolve(cli, ws, args):
    ws.close()
    r = cli("metrics", *args, "--home", str(ws.home), ok=False)
    assert r.exit_code == 1
    assert "siyu identity resolve" in r.output
