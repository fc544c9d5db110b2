"""Private-domain GMV, its factors and the LMDI attribution (DOMAIN.md §7)."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from siyu.models.gmv import FACTORS, _cents, factors_of, gmv, gmv_factors, lmdi, logmean
from siyu.models.periods import parse_period
from siyu.models.sources import Sources
from siyu.schema import FIELDS
from siyu.workspace import Workspace
from tests.models.builder import Brand
from tests.models.test_fast import run

JAN = "2025-01-15 10:00"


def gmv_brand() -> Brand:
    """February and March 2025 (Asia/Shanghai)."""
    b = Brand()
    # m1 member since January: two orders in February, two in March
    b.rel("member:m1", "membership", "start", JAN)
    b.order("member:m1", "2025-02-03 10:00", 100, field="mini_program")
    b.order("member:m1", "2025-02-10 10:00", 50)
    b.order("member:m1", "2025-03-01 00:00", 120, field="group_chat")  # first instant of March
    b.order("member:m1", "2025-03-20 10:00", 30, field="app")
    # m2 member: February's only order refunded; one paid and one refunded in March
    b.rel("member:m2", "membership", "start", JAN)
    b.order("member:m2", "2025-02-05 10:00", 30, status="refunded")
    b.order("member:m2", "2025-03-05 10:00", 80)  # no field → "none"
    b.order("member:m2", "2025-03-06 10:00", 40, status="refunded", field="group_chat")
    b.order("member:m2", "2025-04-01 00:00", 999, field="group_chat")  # April
    # g1 guide friend since January, one order in March
    b.rel("wecom:g1", "guide", "start", "2025-01-20 10:00", "g1")
    b.order("wecom:g1", "2025-03-08 10:00", 60, field="guide")
    # m3 joins in March; its February order was placed outside the private domain
    b.order("member:m3", "2025-02-20 10:00", 70, field="live_room")
    b.rel("member:m3", "membership", "start", "2025-03-02 10:00")
    b.order("member:m3", "2025-03-09 10:00", 100, field="live_room")
    # q leaves in March: in Capital(February) only; its March order is not private GMV
    b.rel("wecom:q", "guide", "start", "2025-01-20 10:00", "g1")
    b.rel("wecom:q", "guide", "end", "2025-03-15 10:00", "g1")
    b.order("wecom:q", "2025-03-10 10:00", 45, field="guide")
    # x never in the private domain
    b.order("pos:x", "2025-03-10 10:00", 500, field="mini_program")
    return b


@pytest.fixture
def gmv_ws(ws, tmp_path):
    gmv_brand().load(ws, tmp_path)
    return ws


def test_gmv_factors_and_attribution(gmv_ws):
    r = run(gmv_ws, gmv, "2025-03")
    assert (r["period"], r["previous"]) == ("2025-03", "2025-02")
    # February: m1's 100 + 50 (m2's refunded; m3 not yet in Capital); March: 120+30+80+60+100
    assert (r["gmv"], r["previous_gmv"], r["change"]) == (390.0, 150.0, 240.0)
    assert r["previous_factors"] == {"users": 4, "conversion": 0.25, "frequency": 2.0,
                                     "aov": 75.0}  # m1 m2 g1 q; one buyer (m1), two orders
    assert r["factors"] == {"users": 4, "conversion": 1.0, "frequency": 1.25, "aov": 78.0}
    L = (390 - 150) / (math.log(390) - math.log(150))
    expected = {"users": 0.0, "conversion": L * math.log(4), "frequency": L * math.log(0.625),
                "aov": L * math.log(78 / 75)}
    att = r["attribution"]
    assert list(att) == list(FACTORS)
    assert all(abs(att[k] - expected[k]) <= 0.01 for k in FACTORS)
    assert abs(sum(att.values()) - r["change"]) < 1e-6
    assert "note" not in r


def test_gmv_by_field(gmv_ws):
    by = run(gmv_ws, gmv, "2025-03")["by_field"]
    expected = dict.fromkeys((*FIELDS, "none"), 0.0)
    expected.update(group_chat=120.0,  # m2's refunded 40 and its April 999 are out
                    app=30.0, none=80.0,
                    guide=105.0,  # g1's 60 and q's 45: field GMV counts whoever ordered
                    live_room=100.0, mini_program=500.0)
    assert by == expected


def test_the_gmv_piece_for_several_periods(gmv_ws):
    src = Sources.of(gmv_ws)
    ps = [parse_period(p, zone=gmv_ws.settings.zone) for p in ("2025-01", "2025-02", "2025-03")]
    df = gmv_factors(src, ps).execute().set_index("period").sort_index()
    assert df[["users", "buyers", "orders"]].values.tolist() == [[4, 0, 0], [4, 1, 2], [4, 4, 5]]
    assert df.gmv.astype(float).tolist() == [0.0, 150.0, 390.0]


def test_lmdi_undefined_when_the_previous_period_has_no_buyers(gmv_ws):
    r = run(gmv_ws, gmv, "2025-02")  # January: Capital 4, no buyers
    assert r["previous_factors"] == {"users": 4, "conversion": 0.0, "frequency": None,
                                     "aov": None}
    assert r["attribution"] is None
    assert "conversion @ 2025-01" in r["note"] and "aov @ 2025-01" in r["note"]
    assert (r["gmv"], r["previous_gmv"], r["change"]) == (150.0, 0.0, 150.0)
    assert r["by_field"]["live_room"] == 70.0  # m3's order, outside the private domain


def test_an_empty_period(gmv_ws):
    r = run(gmv_ws, gmv, "2024-01")
    nothing = {"users": 0, "conversion": None, "frequency": None, "aov": None}
    assert {k: v for k, v in r.items() if k != "note"} == {
        "period": "2024-01", "previous": "2023-12", "gmv": 0.0, "previous_gmv": 0.0,
        "change": 0.0, "by_field": dict.fromkeys((*FIELDS, "none"), 0.0),
        "factors": nothing, "previous_factors": nothing, "attribution": None}
    assert "users @ 2024-01" in r["note"]


# -- the pure pieces -------------------------------------------------------------------------

def test_factors_and_lmdi_edge_cases():
    assert factors_of(0, 0, 0, 0.0) == {"users": 0, "conversion": None, "frequency": None,
                                        "aov": None}
    only_free = factors_of(3, 1, 2, 0.0)  # ¥0 trial orders: a = 0
    assert only_free["aov"] == 0.0
    with pytest.raises(ValueError):
        lmdi(factors_of(3, 1, 2, 10.0), only_free)
    assert logmean(5.0, 5.0) == 5.0 and math.isclose(logmean(2.0, 8.0), logmean(8.0, 2.0))
    same = {"users": 10, "conversion": 0.5, "frequency": 1.2, "aov": 80.0}
    assert lmdi(same, same) == dict.fromkeys(FACTORS, 0.0)


positive = {"users": st.integers(1, 10**6), "conversion": st.floats(1e-4, 1.0),
            "frequency": st.floats(1.0, 20.0), "aov": st.floats(0.01, 1e5)}


@given(st.fixed_dictionaries(positive), st.fixed_dictionaries(positive))
def test_lmdi_parts_sum_to_the_change(before, after):
    parts = lmdi(before, after)
    g0, g1 = math.prod(before.values()), math.prod(after.values())
    # exact in real numbers; the floating-point error grows with the size of the products
    assert abs(sum(parts.values()) - (g1 - g0)) <= 1e-9 * max(1.0, g0, g1)
    for k in FACTORS:
        assert (parts[k] > 0) == (after[k] > before[k]) or after[k] == before[k]


@given(st.lists(st.floats(-1e6, 1e6), min_size=4, max_size=4))
def test_cents_keep_the_sum(values):
    parts = dict(zip(FACTORS, values, strict=True))
    change = round(sum(values), 2)
    got = _cents(parts, change)
    assert abs(sum(got.values()) - change) < 1e-6
    assert all(abs(got[k] - parts[k]) <= 0.02 for k in FACTORS)


# -- CLI -------------------------------------------------------------------------------------

@pytest.fixture
def home(gmv_ws):
    gmv_ws.close()
    return str(gmv_ws.home)


def test_cli_json_keys(cli, home):
    r = cli("metrics", "gmv", "--period", "2025-03", "--home", home, "--json")
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 1
    d = json.loads(lines[0])
    assert list(d) == ["period", "previous", "gmv", "previous_gmv", "change", "by_field",
                       "factors", "previous_factors", "attribution"]
    for k in ("factors", "previous_factors", "attribution"):
        assert list(d[k]) == ["users", "conversion", "frequency", "aov"]
    assert list(d["by_field"]) == [*FIELDS, "none"]
    d = cli.json("metrics", "gmv", "--period", "2025-02", "--home", home)
    assert d["attribution"] is None and list(d)[-1] == "note"


def test_cli_readable(cli, home, monkeypatch):
    monkeypatch.setenv("SIYU_LANG", "zh")
    r = cli("metrics", "gmv", "--period", "2025-03", "--home", home)
    for text in ("私域 GMV", "¥390.00", "用户数 users", "客单价 AOV", "小程序 mini_program",
                 "¥500.00"):
        assert text in r.stdout, text
    r = cli("metrics", "gmv", "--period", "2025-02", "--home", home)
    assert "LMDI" in r.stdout and "无定义" in r.stdout


def test_cli_needs_resolved_identities(cli, tmp_path):
    Workspace.init(tmp_path / "fresh", brand_name="t").close()
    r = cli("metrics", "gmv", "--period", "2025-03", "--home", str(tmp_path / "fresh"),
            ok=False)
    assert r.exit_code == 1 and "siyu identity resolve" in r.output
