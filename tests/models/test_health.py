"""Health in three dimensions (DOMAIN.md §8) on hand-built consumers, Jan–Mar 2025."""

from __future__ import annotations

import math

import pytest

from siyu.models.health import health
from siyu.models.periods import parse_period
from siyu.models.sources import Sources
from tests.models.builder import Brand

FEB = "2025-02-10 10:00"


def health_brand() -> Brand:
    b = Brand()
    # u1: bought in February; in March two orders on one day (one purchase day); views twice
    b.rel("wecom:u1", "guide", "start", FEB, "g1")
    b.order("wecom:u1", "2025-02-15 10:00", 10)
    b.order("wecom:u1", "2025-03-05 09:00", 10).order("wecom:u1", "2025-03-05 21:00", 20)
    b.add("interactions", consumer_key="wecom:u1", field="mini_program", type="view",
          occurred_at="2025-03-05 10:00")
    b.add("interactions", consumer_key="wecom:u1", field="mini_program", type="view",
          occurred_at="2025-03-06 10:00")
    # u2: two purchase days in March (repeat buyer), comments once (engaged)
    b.rel("member:u2", "membership", "start", FEB)
    b.order("member:u2", "2025-03-05 10:00", 30).order("member:u2", "2025-03-08 10:00", 40)
    b.add("interactions", consumer_key="member:u2", field="official_account", type="comment",
          occurred_at="2025-03-05 11:00")
    # u3: bought in February; in March only a refunded order and a brand message
    b.rel("wecom:u3", "guide", "start", FEB, "g1")
    b.order("wecom:u3", "2025-02-15 10:00", 15)
    b.order("wecom:u3", "2025-03-07 10:00", 60, status="refunded")
    b.add("interactions", consumer_key="wecom:u3", field="guide", type="message_sent",
          occurred_at="2025-03-07 10:00")
    # u4: bought in February only
    b.rel("member:u4", "membership", "start", FEB)
    b.order("member:u4", "2025-02-20 10:00", 25)
    # u5: joins on 20 March, buys and visits on 25 March
    b.rel("openid:u5", "shop", "start", "2025-03-20 10:00")
    b.order("openid:u5", "2025-03-25 10:00", 50)
    b.add("interactions", consumer_key="openid:u5", field="mini_program", type="visit",
          occurred_at="2025-03-25 11:00")
    # u6: bought in February, buys again on 12 March, leaves the group on 15 March
    b.rel("wecom:u6", "group_chat", "start", FEB, "grp1")
    b.order("wecom:u6", "2025-02-16 10:00", 5).order("wecom:u6", "2025-03-12 10:00", 70)
    b.rel("wecom:u6", "group_chat", "end", "2025-03-15 10:00", "grp1")
    # u7: follows the official account on 2 March
    b.rel("openid:u7", "official_account", "start", "2025-03-02 10:00", "oa1")
    # g: a buyer outside the private domain
    b.order("pos:g", "2025-03-10 10:00", 999)
    return b


@pytest.fixture
def brand_ws(ws, tmp_path):
    health_brand().load(ws, tmp_path)
    return ws


def health_of(ws, *names) -> dict[str, dict]:
    ps = [parse_period(n, zone=ws.settings.zone) for n in names]
    df = health(Sources.of(ws), ps).execute()
    return {r["period"]: {k: (None if isinstance(v, float) and math.isnan(v) else v)
                          for k, v in r.items()} for r in df.to_dict("records")}


def test_march(brand_ws):
    m = health_of(brand_ws, "2025-03")["2025-03"]
    # scale: Capital(Feb) = u1 u2 u3 u4 u6, Capital(Mar) = u1 u2 u3 u4 u5 u7
    assert (m["capital"], m["capital_previous"], m["new_users"]) == (6, 5, 2)
    assert m["growth_rate"] == pytest.approx(0.2)
    # quality: daily capital 5 (1 Mar), 6 (2–14), 5 (15–19, u6 gone), 6 (20–31, u5);
    # active: 5 Mar u1 u2, 6 Mar u1, 25 Mar u5 (u3's message_sent is no visit)
    assert m["dau_rate"] == pytest.approx((2 / 6 + 1 / 6 + 1 / 6) / 31)
    # ISO weeks W09 … W14; W10 has u1 u2 of 6, W13 u5 of 6, the other four none
    assert m["wau_rate"] == pytest.approx((2 / 6 + 1 / 6) / 6)
    assert m["interaction_rate"] == pytest.approx(1 / 6)
    # value: buyers u1 (one purchase day), u2 (two), u5; not u3 (refunded), u6 (left), g
    assert (m["buyers"], m["repeat_buyers"], m["orders"]) == (3, 1, 5)
    assert m["repurchase_rate"] == pytest.approx(1 / 3)
    assert m["gmv"] == pytest.approx(150) and m["aov"] == pytest.approx(30)
    # February buyers u1 u3 u4 u6; back in March: u1 and u6 (though u6 left afterwards)
    assert (m["previous_buyers"], m["returning_buyers"]) == (4, 2)
    assert m["next_period_repurchase_rate"] == pytest.approx(0.5)
    # CLV (§6, 365 days, amount): u1 40, u2 70, u3 15, u4 25, u5 50, u7 0
    assert m["clv_mean"] == pytest.approx(200 / 6)


def test_several_months_at_once_and_an_empty_one(brand_ws):
    got = health_of(brand_ws, "2025-03", "2025-01", "2025-02")
    assert list(got) == ["2025-01", "2025-02", "2025-03"]
    f = got["2025-02"]
    assert (f["capital"], f["capital_previous"], f["new_users"], f["growth_rate"]) == (
        5, 0, 5, None)
    # days 1–9 February and weeks W05, W06 have no capital: left out of the means
    assert (f["dau_rate"], f["wau_rate"], f["interaction_rate"]) == (0.0, 0.0, 0.0)
    assert (f["buyers"], f["repurchase_rate"], f["next_period_repurchase_rate"]) == (
        4, 0.0, None)
    assert f["aov"] == pytest.approx(55 / 4)
    assert f["clv_mean"] == pytest.approx(55 / 5)  # u1 10, u2 0, u3 15, u4 25, u6 5
    assert got["2025-03"]["next_period_repurchase_rate"] == pytest.approx(0.5)
    j = got["2025-01"]
    assert (j["capital"], j["new_users"], j["buyers"], j["orders"]) == (0, 0, 0, 0)
    for k in ("growth_rate", "dau_rate", "wau_rate", "interaction_rate", "repurchase_rate",
              "next_period_repurchase_rate", "aov", "clv_mean"):
        assert j[k] is None, k


def test_a_week(brand_ws):
    w = health_of(brand_ws, "2025-W10")["2025-W10"]  # 3–9 March
    assert (w["capital"], w["capital_previous"], w["new_users"]) == (6, 6, 0)
    assert w["growth_rate"] == 0.0
    assert w["dau_rate"] == pytest.approx((2 / 6 + 1 / 6) / 7)
    assert w["wau_rate"] == pytest.approx(2 / 6)
    assert (w["buyers"], w["repeat_buyers"]) == (2, 1)
    # W09's buyers: none (u7 only joined); so next-period repurchase has no denominator
    assert (w["previous_buyers"], w["next_period_repurchase_rate"]) == (0, None)


# -- CLI -----------------------------------------------------------------------------------

def test_cli_health_json(cli, brand_ws):
    brand_ws.close()  # the CLI opens the workspace itself
    data = cli.json("metrics", "health", "--period", "2025-03", "--home", str(brand_ws.home))
    assert data == {
        "period": "2025-03",
        "scale": {"capital": 6, "capital_previous": 5, "new_users": 2, "growth_rate": 0.2},
        "quality": {"dau_rate": round(4 / 6 / 31, 6), "wau_rate": round(1 / 12, 6),
                    "interaction_rate": round(1 / 6, 6)},
        "value": {"buyers": 3, "repeat_buyers": 1, "repurchase_rate": round(1 / 3, 6),
                  "previous_buyers": 4, "returning_buyers": 2,
                  "next_period_repurchase_rate": 0.5, "orders": 5, "gmv": 150.0,
                  "aov": 30.0, "clv_mean": 33.33},
    }


def test_cli_health_grain_and_table(cli, brand_ws):
    brand_ws.close()
    home = str(brand_ws.home)
    jan = cli.json("metrics", "health", "--period", "2025-01", "--grain", "month",
                   "--home", home)
    assert jan["scale"]["growth_rate"] is None and jan["value"]["aov"] is None
    r = cli("metrics", "health", "--period", "2025-03", "--home", home)
    for label in ("规模", "scale", "质量", "quality", "价值", "value", "新增用户", "增长率",
                  "日活率", "DAU rate", "周活率", "WAU rate", "互动率", "复购率",
                  "repurchase rate", "客单价", "AOV", "50.0%", "30.00"):
        assert label in r.stdout, label
    bad = cli("metrics", "health", "--period", "2025-03", "--grain", "week", "--home", home,
              ok=False)
    assert bad.exit_code == 2
