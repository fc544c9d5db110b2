"""The five-tier ladder (DOMAIN.md §5) on hand-built consumers, March 2025 (Asia/Shanghai)."""

from __future__ import annotations

import pytest

from siyu.config import load_settings
from siyu.models.periods import parse_period
from siyu.models.sources import Sources
from siyu.models.tiers import tiers
from tests.models.builder import Brand

FEB = "2025-02-10 10:00"


def march_brand() -> Brand:
    b = Brand()
    # u1 basic: a guide friend only
    b.rel("wecom:u1", "guide", "start", FEB, "g1")
    # u2 member, no purchase in March (one in February does not count)
    b.rel("member:u2", "membership", "start", FEB).order("member:u2", "2025-02-20 10:00", 50)
    # u3 member, one purchase
    b.rel("member:u3", "membership", "start", FEB).order("member:u3", "2025-03-03 10:00", 80)
    # u4 member, two purchases on one day = one purchase day
    b.rel("member:u4", "membership", "start", FEB)
    b.order("member:u4", "2025-03-05 09:00", 10).order("member:u4", "2025-03-05 21:00", 20)
    # u5 member, two purchase days -> repeat member
    b.rel("member:u5", "membership", "start", FEB)
    b.order("member:u5", "2025-03-05 09:00", 10).order("member:u5", "2025-03-06 09:00", 10)
    # u6 member, two purchase days, and u7 buys through u6's share within 7 days -> KOC
    b.rel("member:u6", "membership", "start", FEB)
    b.order("member:u6", "2025-03-01 09:00", 10).order("member:u6", "2025-03-02 09:00", 10)
    b.add("shares", share_id="s6", consumer_key="member:u6", occurred_at="2025-03-10 20:00")
    b.rel("wecom:u7", "guide", "start", FEB, "g1")
    b.order("wecom:u7", "2025-03-16 23:00", 99, share_id="s6")  # local day 7 of the window
    # u8 member, two purchase days but one refunded -> one purchase day
    b.rel("member:u8", "membership", "start", FEB)
    b.order("member:u8", "2025-03-05 09:00", 10)
    b.order("member:u8", "2025-03-07 09:00", 10, status="refunded")
    # u9 membership ends inside March; still a guide friend -> basic
    b.rel("member:u9", "membership", "start", FEB).rel("member:u9", "membership", "end",
                                                        "2025-03-20 10:00")
    b.link("member:u9", "wecom:u9").rel("wecom:u9", "guide", "start", FEB, "g2")
    b.order("member:u9", "2025-03-05 09:00", 10).order("member:u9", "2025-03-06 09:00", 10)
    # u10 joins membership after a purchase on the same day: that purchase is not a member one
    b.order("member:u10", "2025-03-04 10:00", 30)
    b.rel("member:u10", "membership", "start", "2025-03-04 15:00")
    b.order("member:u10", "2025-03-09 10:00", 30)
    # u11 two purchase days; a share converted on day 8 is outside the window -> repeat member
    b.rel("member:u11", "membership", "start", FEB)
    b.order("member:u11", "2025-03-01 09:00", 10).order("member:u11", "2025-03-02 09:00", 10)
    b.add("shares", share_id="s11", consumer_key="member:u11", occurred_at="2025-03-10 08:00")
    b.order("wecom:u7", "2025-03-17 00:30", 50, share_id="s11")
    # u12 two purchase days; the referee is u12 under another key (one person after OneID)
    b.rel("member:u12", "membership", "start", FEB).link("member:u12", "openid:u12")
    b.order("member:u12", "2025-03-01 09:00", 10).order("member:u12", "2025-03-02 09:00", 10)
    b.add("shares", share_id="s12", consumer_key="member:u12", occurred_at="2025-03-10 08:00")
    b.order("openid:u12", "2025-03-11 09:00", 70, share_id="s12")
    # u13 leaves and re-joins in March: member at the end; the purchase in the gap is not a
    # member purchase, so one member purchase day
    b.rel("member:u13", "membership", "start", FEB)
    b.rel("member:u13", "membership", "end", "2025-03-10 10:00")
    b.rel("member:u13", "membership", "start", "2025-03-12 10:00")
    b.order("member:u13", "2025-03-11 09:00", 10).order("member:u13", "2025-03-13 09:00", 10)
    # u14 two purchase days and a 5-star review -> KOC (review switch on)
    b.rel("member:u14", "membership", "start", FEB)
    b.order("member:u14", "2025-03-01 09:00", 10).order("member:u14", "2025-03-02 09:00", 10)
    b.add("reviews", review_id="r14", consumer_key="member:u14", rating=5,
          occurred_at="2025-03-03 10:00")
    # u15 left every relationship in March -> tier 0 (absent)
    b.rel("wecom:u15", "guide", "start", FEB, "g1").rel("wecom:u15", "guide", "end",
                                                         "2025-03-02 10:00", "g1")
    # u16 a buyer with no relationship at all -> tier 0
    b.order("pos:u16", "2025-03-05 10:00", 500)
    return b


EXPECTED = {"u1": 1, "u2": 2, "u3": 3, "u4": 3, "u5": 4, "u6": 5, "u7": 1, "u8": 3, "u9": 1,
            "u10": 3, "u11": 4, "u12": 4, "u13": 3, "u14": 5}


@pytest.fixture
def brand_ws(ws, tmp_path):
    march_brand().load(ws, tmp_path)
    return ws


def tiers_by_person(ws, period="2025-03") -> dict[str, int]:
    src = Sources.of(ws)
    p = parse_period(period, zone=ws.settings.zone)
    df = tiers(src, [p]).execute()
    idm = ws.warehouse.ibis.table("identity_map").execute()
    person = {r.consumer_id: r.key.split(":", 1)[1] for r in idm.itertuples()}
    return {person[r.consumer_id]: int(r.tier) for r in df.itertuples()}


def test_tiers_of_every_scenario(brand_ws):
    assert tiers_by_person(brand_ws) == EXPECTED


def test_review_switch_off(brand_ws):
    brand_ws.settings = load_settings(brand_ws.settings_path, propagation_reviews=False)
    got = tiers_by_person(brand_ws)
    assert got["u14"] == 4 and got["u6"] == 5


def test_wider_window_takes_the_day_8_share(brand_ws):
    brand_ws.settings = load_settings(brand_ws.settings_path, propagation_window_days=8)
    assert tiers_by_person(brand_ws)["u11"] == 5


def test_february_and_an_empty_period(brand_ws):
    feb = tiers_by_person(brand_ws, "2025-02")
    # members since 10 Feb; u2's February purchase makes it a purchasing member then
    assert feb["u2"] == 3 and feb["u1"] == 1 and "u10" not in feb
    assert tiers_by_person(brand_ws, "2024-01") == {}
