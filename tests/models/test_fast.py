"""FAST+ (DOMAIN.md §6) on hand-built brands through the real import and OneID path."""

from __future__ import annotations

import json
import math
import random
import tempfile
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from siyu.config import load_settings
from siyu.models.fast import TIER_KEYS, clv, conversion, fast, tier_counts, tier_pairs
from siyu.models.gmv import gmv
from siyu.models.periods import parse_period
from siyu.models.sources import Sources
from siyu.models.tiers import tiers
from siyu.schema import FIELDS
from siyu.workspace import Workspace
from tests.models.builder import Brand
from tests.models.test_tiers import march_brand

SLOW = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                      HealthCheck.too_slow])


def run(ws, model, period: str):
    return model(Sources.of(ws), parse_period(period, zone=ws.settings.zone))


def person_of(ws) -> dict[str, str]:
    idm = ws.warehouse.ibis.table("identity_map").execute()
    return {r.consumer_id: r.key.split(":", 1)[1] for r in idm.itertuples()}


# -- Capital, Conversion, transitions (march_brand of test_tiers) ----------------------------

def interactions(b: Brand) -> Brand:
    """Visits on top of march_brand (interactions do not change tiers)."""
    def i(key, field, type_, at, ref=""):
        b.add("interactions", consumer_key=key, field=field, type=type_, occurred_at=at,
              field_ref=ref)

    i("wecom:u1", "guide", "visit", "2025-03-03 10:00", "g1")
    i("wecom:u1", "guide", "view", "2025-03-04 10:00", "g1")  # the same visitor once
    i("wecom:u7", "guide", "click", "2025-03-05 10:00", "g2")
    i("wecom:u15", "guide", "message", "2025-03-25 10:00", "g1")  # left in March: tier 0
    i("pos:u16", "mini_program", "visit", "2025-03-05 10:00")  # never in the private domain
    i("member:u2", "group_chat", "message_sent", "2025-03-05 10:00", "grp1")  # not a visit
    i("member:u3", "live_room", "live_watch", "2025-04-01 00:00", "live1")  # April
    i("member:u4", "live_room", "live_watch", "2025-03-01 00:00", "live1")
    i("member:u5", "official_account", "view", "2025-02-28 23:59", "oa1")  # February
    return b


@pytest.fixture
def march_ws(ws, tmp_path):
    interactions(march_brand()).load(ws, tmp_path)
    return ws


def test_capital_conversion_and_transitions(march_ws):
    r = run(march_ws, fast, "2025-03")
    assert r["capital"] == 14
    assert r["tiers"] == {"basic": 3, "member_no_purchase": 1, "member_purchased": 5,
                          "member_repeat": 3, "koc": 2}
    # rows: tier at end of February; columns: tier at end of March
    assert r["transitions"] == [
        [0, 0, 0, 1, 0, 0],  # u10 enters from 0 as a purchasing member; (0, 0) is 0
        [1, 2, 0, 0, 0, 0],  # u15 drops to 0; u1, u7 stay basic
        [0, 1, 0, 4, 3, 2],  # u9 → basic; u3 u4 u8 u13 → 3; u5 u11 u12 → 4; KOCs u6 u14
        [0, 0, 1, 0, 0, 0],  # u2 bought in February, not in March: 3 → 2
        [0, 0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 0],
    ]
    assert r["deepened"] == 9  # row 2 right of the diagonal; u10 came from 0: not deepened
    assert r["conversion"] == round(9 / 14, 6)


def test_matrix_margins_are_the_tier_counts(march_ws):
    src = Sources.of(march_ws)
    zone = march_ws.settings.zone
    feb, mar = (parse_period(p, zone=zone) for p in ("2025-02", "2025-03"))
    m = run(march_ws, fast, "2025-03")["transitions"]
    for p, margin in ((feb, [sum(m[t]) for t in range(6)]),
                      (mar, [sum(row[t] for row in m) for t in range(6)])):
        counts = tiers(src, [p]).execute().tier.value_counts()
        assert margin[1:] == [int(counts.get(t, 0)) for t in range(1, 6)]


def test_conversion_piece_for_several_periods(march_ws):
    src = Sources.of(march_ws)
    zone = march_ws.settings.zone
    ps = [parse_period(p, zone=zone) for p in ("2025-02", "2025-03")]
    df = conversion(src, ps).execute().set_index("period")
    assert df.loc["2025-02", ["capital", "previous_capital", "deepened"]].tolist() == [14, 0, 0]
    assert pd.isna(df.loc["2025-02", "conversion"])  # nobody at end of January: null, not 0
    assert df.loc["2025-03", ["capital", "previous_capital", "deepened"]].tolist() == [14, 14, 9]
    pairs = tier_pairs(src, ps).execute()
    assert len(pairs[(pairs.period == "2025-02") & (pairs.before > 0)]) == 0
    counts = tier_counts(src, ps).execute()
    assert {(r.period, int(r.tier)): int(r.n) for r in counts.itertuples()} == {
        ("2025-02", 1): 3, ("2025-02", 2): 10, ("2025-02", 3): 1,  # u2 bought in February
        ("2025-03", 1): 3, ("2025-03", 2): 1, ("2025-03", 3): 5, ("2025-03", 4): 3,
        ("2025-03", 5): 2}


def test_connection_per_field_and_touchpoint(march_ws):
    r = run(march_ws, fast, "2025-03")
    expected = dict.fromkeys(FIELDS)
    expected.update(guide=round(2 / 3, 6),  # u1, u7 in; u15 left before the visit
                    mini_program=0.0,  # a visitor outside the private domain: 0, not null
                    live_room=1.0)  # u4 on 1 March 00:00; u3 on 1 April is outside
    assert r["connection"] == expected  # group_chat: message_sent only → no visitors → null
    assert r["connection_by_ref"] == {"g1": 0.5, "g2": 1.0, "live1": 1.0}


def test_an_empty_period(march_ws):
    r = run(march_ws, fast, "2024-01")
    assert r == {
        "period": "2024-01", "capital": 0, "deepened": 0, "conversion": None,
        "tiers": dict.fromkeys(TIER_KEYS.values(), 0),
        "transitions": [[0] * 6 for _ in range(6)],
        "connection": dict.fromkeys(FIELDS), "connection_by_ref": {},
        "clv": {"mean": None, "total": 0.0, "by_tier": dict.fromkeys("12345"),
                "basis": "amount"},
    }


def test_an_empty_workspace(ws, tmp_path):
    Brand().load(ws, tmp_path)
    r = run(ws, fast, "2025-03")
    assert r["capital"] == 0 and r["conversion"] is None and r["clv"]["mean"] is None


# -- CLV -------------------------------------------------------------------------------------

def clv_brand() -> Brand:
    """End of March 2025 = 2025-04-01 00:00 local; W = [2024-04-01 00:00, 2025-04-01 00:00)."""
    b = Brand()
    b.rel("member:a", "membership", "start", "2024-01-01 00:00")
    b.order("member:a", "2024-03-31 23:59", 1000, gross_profit=500)  # just before W
    b.order("member:a", "2024-04-01 00:00", 100, gross_profit=30)  # first instant of W
    b.order("member:a", "2025-03-11 10:00", 20, gross_profit=5, share_id="s1")  # own share
    b.order("member:a", "2025-03-31 23:59", 50)  # last minute of W; no gross_profit → 0
    b.order("member:a", "2025-04-01 00:00", 700, gross_profit=300)  # end(P): outside
    b.order("member:a", "2025-03-15 10:00", 999, status="refunded", gross_profit=400)
    b.add("shares", share_id="s0", consumer_key="member:a", occurred_at="2024-03-25 10:00")
    b.add("shares", share_id="s1", consumer_key="member:a", occurred_at="2025-03-10 10:00")
    # b: not in the private domain; buys through a's shares
    b.order("pos:b", "2025-03-12 10:00", 200, gross_profit=80, share_id="s1")  # a's propagation
    b.order("pos:b", "2025-03-20 10:00", 300, gross_profit=100, share_id="s1")  # day 11: no
    b.order("pos:b", "2024-03-31 20:00", 400, gross_profit=150, share_id="s0")  # before W
    b.order("pos:b", "2025-03-13 10:00", 60, status="refunded", share_id="s1")
    # c: a guide friend without orders; d: a guide friend with one order
    b.rel("wecom:c", "guide", "start", "2024-06-01 10:00", "g1")
    b.rel("wecom:d", "guide", "start", "2025-01-01 10:00", "g1")
    b.order("wecom:d", "2025-02-01 10:00", 40, gross_profit=10)
    return b


@pytest.fixture
def clv_ws(ws, tmp_path):
    clv_brand().load(ws, tmp_path)
    return ws


def test_clv_own_plus_propagation(clv_ws):
    src = Sources.of(clv_ws)
    df = clv(src, [parse_period("2025-03", zone=clv_ws.settings.zone)]).execute()
    who = person_of(clv_ws)
    got = {who[r.consumer_id]: (int(r.tier), float(r.own), float(r.propagation), float(r.clv))
           for r in df.itertuples()}
    # a: two member purchase days in March and b's order through s1 → KOC
    assert got == {"a": (5, 170.0, 200.0, 370.0), "c": (1, 0.0, 0.0, 0.0),
                   "d": (1, 40.0, 0.0, 40.0)}  # b is not in Capital
    c = run(clv_ws, fast, "2025-03")["clv"]
    assert c == {"mean": round(410 / 3, 2), "total": 410.0,
                 "by_tier": {"1": 20.0, "2": None, "3": None, "4": None, "5": 370.0},
                 "basis": "amount"}


def test_clv_on_gross_profit(clv_ws):
    clv_ws.settings = load_settings(clv_ws.settings_path, clv_basis="profit")
    c = run(clv_ws, fast, "2025-03")["clv"]
    # a: own 30 + 5 + 0 (null profit), propagation 80; d: 10; c: 0
    assert c == {"mean": round(125 / 3, 2), "total": 125.0,
                 "by_tier": {"1": 5.0, "2": None, "3": None, "4": None, "5": 115.0},
                 "basis": "profit"}


def test_clv_wider_window_takes_the_edge_orders(clv_ws):
    clv_ws.settings = load_settings(clv_ws.settings_path, clv_window_days=366)
    c = run(clv_ws, fast, "2025-03")["clv"]
    # W from 2024-03-31 00:00: a's ¥1000 and b's ¥400 through s0 (day 7 of s0) now count
    assert c["by_tier"]["5"] == 1770.0 and c["total"] == 1810.0


# -- properties on generated brands ----------------------------------------------------------

DAYS = [f"2025-{m:02d}-{d:02d}" for m, d in ((1, 20), (2, 1), (2, 14), (2, 28), (3, 1),
                                             (3, 3), (3, 9), (3, 15), (3, 31), (4, 1))]
KEYS = ["member:p1", "member:p2", "wecom:p3", "wecom:p4", "openid:p5"]


@st.composite
def brands(draw) -> Brand:
    b = Brand()
    at = st.builds(lambda d, h: f"{d} {h:02d}:00", st.sampled_from(DAYS),
                   st.sampled_from([0, 9, 23]))
    key = st.sampled_from(KEYS)
    for _ in range(draw(st.integers(1, 10))):
        b.rel(draw(key), draw(st.sampled_from(["membership", "guide", "group_chat"])),
              draw(st.sampled_from(["start", "start", "end"])), draw(at), "r1")
    shares = []
    for n in range(draw(st.integers(0, 3))):
        shares.append(f"s{n}")
        b.add("shares", share_id=f"s{n}", consumer_key=draw(key), occurred_at=draw(at))
    for _ in range(draw(st.integers(2, 14))):
        b.order(draw(key), draw(at), draw(st.sampled_from([0, 10, 25.5])),
                status=draw(st.sampled_from(["paid", "paid", "refunded"])),
                share_id=draw(st.sampled_from(["", *shares])),
                field=draw(st.sampled_from(["", "guide", "mini_program"])))
    for _ in range(draw(st.integers(0, 4))):
        b.add("interactions", consumer_key=draw(key), field=draw(st.sampled_from(
            ["guide", "group_chat"])), type=draw(st.sampled_from(["visit", "message_sent"])),
            occurred_at=draw(at), field_ref="r1")
    if draw(st.booleans()):
        b.link("member:p1", "wecom:p3")
    return b


@contextmanager
def loaded(b: Brand):
    """A new workspace holding ``b`` (hypothesis examples cannot share pytest's tmp_path)."""
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace.init(Path(tmp) / "ws", brand_name="t")
        try:
            b.load(ws, Path(tmp))
            yield ws
        finally:
            ws.close()


@settings(SLOW, max_examples=4)
@given(brands())
def test_invariants_on_generated_brands(b):
    with loaded(b) as ws:
        src = Sources.of(ws)
        p = parse_period("2025-03", zone=ws.settings.zone)
        r = fast(src, p)
        g = gmv(src, p)
        m = r["transitions"]
        assert sum(r["tiers"].values()) == r["capital"] == len(tiers(src, [p]).execute())
        assert m[0][0] == 0
        assert [sum(row[t] for row in m) for t in range(1, 6)] == list(r["tiers"].values())
        prev = sum(sum(m[t]) for t in range(1, 6))
        assert prev == len(tiers(src, [p.previous()]).execute())
        assert r["deepened"] <= prev
        assert (r["conversion"] is None) == (prev == 0)
        assert all(x is None or 0 <= x <= 1 for x in r["connection"].values())
        f = g["factors"]
        assert f["users"] == r["capital"]
        if None not in f.values():
            # the identity U × c × f × a = GMV (aov is rounded to cents in the JSON)
            assert math.isclose(f["users"] * f["conversion"] * f["frequency"] * f["aov"],
                                g["gmv"], rel_tol=1e-3, abs_tol=0.01 * f["users"])
        if g["attribution"] is not None:
            assert abs(sum(g["attribution"].values()) - g["change"]) < 1e-6
        assert sum(g["by_field"].values()) >= g["gmv"] - 1e-9


def full_brand() -> Brand:
    """march_brand with its visits and clv_brand, in one brand."""
    b = interactions(march_brand())
    for table, rows in clv_brand().rows.items():
        for row in rows:  # the generated ids of clv_brand would collide: draw new ones
            b.add(table, **{k: v for k, v in row.items() if k not in ("order_id", "event_id")})
    return b


def both(ws) -> str:
    return json.dumps([run(ws, fast, "2025-03"), run(ws, gmv, "2025-03")], sort_keys=True)


@cache
def baseline() -> str:
    with loaded(full_brand()) as ws:
        return both(ws)


@settings(SLOW, max_examples=2)
@given(st.randoms(use_true_random=False))
def test_results_do_not_depend_on_row_order(rnd: random.Random):
    b = full_brand()
    for rows in b.rows.values():
        rnd.shuffle(rows)
    b.rows = dict(rnd.sample(list(b.rows.items()), len(b.rows)))
    with loaded(b) as ws:
        got = both(ws)
    assert got == baseline()


# -- CLI -------------------------------------------------------------------------------------

@pytest.fixture
def home(march_ws):
    march_ws.close()  # the CLI opens the workspace itself
    return str(march_ws.home)


def test_cli_json_keys(cli, home):
    r = cli("metrics", "fast", "--period", "2025-03", "--home", home, "--json")
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 1
    d = json.loads(lines[0])
    assert list(d) == ["period", "capital", "deepened", "conversion", "tiers", "transitions",
                       "connection", "connection_by_ref", "clv"]
    assert list(d["tiers"]) == ["basic", "member_no_purchase", "member_purchased",
                                "member_repeat", "koc"]
    assert list(d["clv"]) == ["mean", "total", "by_tier", "basis"]
    assert list(d["clv"]["by_tier"]) == ["1", "2", "3", "4", "5"]
    assert list(d["connection"]) == list(FIELDS)
    assert len(d["transitions"]) == 6 and all(len(row) == 6 for row in d["transitions"])
    assert d["capital"] == 14 and d["period"] == "2025-03"


def test_cli_readable_tables(cli, home, monkeypatch):
    monkeypatch.setenv("SIYU_LANG", "zh")
    r = cli("metrics", "fast", "--period", "2025-03", "--grain", "month", "--home", home)
    for text in ("可持续运营私域关系数 Capital", "角色关系加深效率 Conversion", "品牌KOC",
                 "场域引力 Connection", "P−1 \\ P", "64.3%", "导购企微 guide", "66.7%"):
        assert text in r.stdout, text


def test_cli_errors(cli, home, tmp_path):
    r = cli("metrics", "fast", "--period", "2025-03", "--grain", "week", "--home", home,
            ok=False)
    assert r.exit_code == 2
    Workspace.init(tmp_path / "fresh", brand_name="t").close()  # never resolved
    r = cli("metrics", "fast", "--period", "2025-03", "--home", str(tmp_path / "fresh"),
            "--json", ok=False)
    assert r.exit_code == 1 and "siyu identity resolve" in r.output and r.stdout == ""
