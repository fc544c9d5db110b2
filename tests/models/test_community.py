"""Community metrics (DOMAIN.md §11) for March 2025 on hand-built groups.

Groups: G1 normal @S1, G2 member @S1, G3 normal @S2 (emptied in March), G4 member without a
store; stores S1, S2, S3. Members at end of March: G1 {a, b, c}, G2 {a, f}, G3 {}, G4 {h}.
"""

from __future__ import annotations

import math

import pytest

from siyu.config import load_settings
from siyu.models.community import community, community_periods
from siyu.models.periods import parse_period, periods_between
from siyu.models.sources import Sources
from tests.models.builder import Brand

FEB = "2025-02-10 10:00"


def community_brand() -> Brand:
    b = Brand()
    for s in ("S1", "S2", "S3"):
        b.add("stores", store_id=s, name=f"store {s}")
    b.add("touchpoints", field_ref="G1", field="group_chat", name="一群", store_id="S1",
          group_type="normal")
    b.add("touchpoints", field_ref="G2", field="group_chat", name="会员群", store_id="S1",
          group_type="member")
    b.add("touchpoints", field_ref="G3", field="group_chat", name="二店群", store_id="S2",
          group_type="normal")
    b.add("touchpoints", field_ref="G4", field="group_chat", name="线上会员群",
          group_type="member")
    b.add("touchpoints", field_ref="L1", field="live_room", name="直播间", store_id="S3")

    def join(key, g, at=FEB, source=""):
        b.add("relationships", consumer_key=key, field="group_chat", action="start",
              occurred_at=at, field_ref=g, source=source)

    def leave(key, g, at):
        b.rel(key, "group_chat", "end", at, g)

    def msg(key, g, at, type_="message"):
        b.add("interactions", consumer_key=key, field="group_chat", type=type_,
              occurred_at=at, field_ref=g, text="hi")

    def buy(key, g, at, amount, **kw):
        b.order(key, at, amount, field="group_chat", field_ref=g, **kw)

    join("wecom:a", "G1")
    join("wecom:a", "G2")
    join("wecom:b", "G1", "2025-03-05 10:00", "qr_code")
    join("wecom:c", "G1")                                    # leaves and re-joins in March
    leave("wecom:c", "G1", "2025-03-10 10:00")
    join("wecom:c", "G1", "2025-03-20 10:00", "referral")
    join("wecom:d", "G1")                                    # leaves for good
    leave("wecom:d", "G1", "2025-03-15 10:00")
    join("wecom:f", "G2")                                    # f has two keys
    b.link("wecom:f", "member:f")
    join("wecom:g", "G3")
    leave("wecom:g", "G3", "2025-03-05 10:00")
    join("wecom:h", "G4", "2025-03-01 00:00")                # joins at start(P), no source
    join("wecom:i", "GX")                                    # an undeclared group: left out

    msg("wecom:a", "G1", "2025-03-03 10:00")
    msg("wecom:a", "G1", "2025-03-04 10:00")
    msg("wecom:d", "G1", "2025-03-02 10:00")                 # wrote, but gone at the end
    msg("wecom:a", "G1", "2025-02-20 10:00")                 # February
    msg("wecom:b", "G1", "2025-03-06 10:00", "like")         # not a message
    msg("wecom:f", "G2", "2025-03-10 10:00")
    msg("wecom:g", "G3", "2025-03-02 10:00")

    buy("wecom:b", "G1", "2025-03-06 10:00", 100)
    buy("wecom:b", "G1", "2025-03-07 10:00", 50)
    buy("pos:x", "G1", "2025-03-08 10:00", 200)              # a buyer who is not a member
    buy("wecom:b", "G1", "2025-03-09 10:00", 999, status="refunded")
    buy("wecom:b", "G1", "2025-02-20 10:00", 70)             # February
    buy("member:f", "G2", "2025-03-12 10:00", 300)
    buy("wecom:g", "G3", "2025-03-02 10:00", 80)
    b.order("wecom:a", "2025-03-15 10:00", 500, field="mini_program")  # not a group order
    return b


TOTAL_GMV = 350 + 300 + 80 + 500


@pytest.fixture
def brand_ws(ws, tmp_path):
    community_brand().load(ws, tmp_path)
    return ws


def run(ws, period="2025-03"):
    return community(Sources.of(ws), parse_period(period, zone=ws.settings.zone))


def rows(t, key) -> dict[str, dict]:
    return {r[key]: r for r in t.execute().to_dict("records")}


def check(got: dict, want: dict) -> None:
    for k, v in want.items():
        g = got[k]
        if v is None:
            assert g is None or (isinstance(g, float) and math.isnan(g)), (k, g)
        else:
            assert g == pytest.approx(v), (k, g, v)


def test_per_group(brand_ws):
    g = rows(run(brand_ws)["groups"], "field_ref")
    assert set(g) == {"G1", "G2", "G3", "G4"}
    check(g["G1"], dict(members=3, groups=1, joins=2, messages=3, writers=1, active_rate=1 / 3,
                        interaction_ratio=1.0, orders=3, gmv=350, buyers=2, member_buyers=1,
                        conversion=1 / 3, aov=350 / 3, gmv_share=350 / TOTAL_GMV,
                        repeat_buyers=1, repurchase_rate=0.5))
    check(g["G2"], dict(members=2, messages=1, writers=1, active_rate=0.5, orders=1, gmv=300,
                        buyers=1, member_buyers=1, conversion=0.5, repurchase_rate=0.0))
    # G3 emptied in March: no members, so no rates over members, but its flows still count
    check(g["G3"], dict(members=0, groups=0, messages=1, writers=0, active_rate=None,
                        interaction_ratio=None, conversion=None, orders=1, gmv=80,
                        member_buyers=0, gmv_share=80 / TOTAL_GMV, mean_members_per_group=None))
    check(g["G4"], dict(members=1, joins=1, messages=0, active_rate=0.0, orders=0, gmv=0,
                        aov=None, buyers=0, repurchase_rate=None, gmv_share=0.0))
    assert (g["G2"]["group_type"], g["G4"]["group_type"], g["G4"]["store_id"]) == (
        "member", "member", "")
    assert not any(r["at_capacity"] for r in g.values())


def test_overall(brand_ws):
    r = run(brand_ws)
    o = r["overall"].execute().to_dict("records")[0]
    check(o, dict(declared_groups=4, groups=3, members=5, memberships=6,
                  mean_members_per_group=2.0, stores=3, stores_covered=1, store_coverage=1 / 3,
                  joins=3, messages=5, writers=2, active_rate=2 / 5, interaction_ratio=1.0,
                  orders=5, gmv=730, buyers=4, member_buyers=2, conversion=2 / 5, aov=146,
                  gmv_share=730 / TOTAL_GMV, repeat_buyers=1, repurchase_rate=1 / 4,
                  at_capacity=0))
    assert r["total_gmv"].execute() == TOTAL_GMV
    joins = {x["source"]: x["joins"] for x in r["joins"]["overall"].execute().to_dict("records")}
    assert joins == {"qr_code": 1, "referral": 1, "unknown": 1}


def test_by_type_and_store(brand_ws):
    r = run(brand_ws)
    t = rows(r["by_type"], "group_type")
    check(t["normal"], dict(declared_groups=2, groups=1, members=3, mean_members_per_group=3.0,
                            joins=2, messages=4, writers=1, interaction_ratio=4 / 3, orders=4,
                            gmv=430, buyers=3, member_buyers=1, conversion=1 / 3,
                            stores_covered=1, store_coverage=1 / 3))
    check(t["member"], dict(declared_groups=2, groups=2, members=3, memberships=3,
                            mean_members_per_group=1.5, joins=1, active_rate=1 / 3, orders=1,
                            gmv=300, repurchase_rate=0.0, store_coverage=1 / 3))
    s = rows(r["by_store"], "store_id")
    assert set(s) == {"S1", "S2", ""}
    check(s["S1"], dict(declared_groups=2, groups=2, members=4, memberships=5, joins=2,
                        messages=4, writers=2, orders=4, gmv=650, buyers=3, member_buyers=2,
                        repeat_buyers=1))
    check(s["S2"], dict(declared_groups=1, groups=0, members=0, mean_members_per_group=None,
                        conversion=None, orders=1, gmv=80))
    check(s[""], dict(groups=1, members=1, joins=1))
    by_src = {(x["group_type"], x["source"]): x["joins"]
              for x in r["joins"]["by_type"].execute().to_dict("records")}
    assert by_src == {("normal", "qr_code"): 1, ("normal", "referral"): 1,
                      ("member", "unknown"): 1}


def test_capacity_flag(brand_ws):
    brand_ws.settings = load_settings(brand_ws.settings_path, group_capacity=3)
    r = run(brand_ws)
    g = rows(r["groups"], "field_ref")
    assert [k for k, v in sorted(g.items()) if v["at_capacity"]] == ["G1"]
    assert r["overall"].execute().at_capacity.iloc[0] == 1


def test_february_and_an_empty_period(brand_ws):
    o = run(brand_ws, "2025-02")["overall"].execute().to_dict("records")[0]
    # end of February: a, c, d in G1, a and f in G2, g in G3; h has not joined yet; six joins
    # on 10 February (a joined two groups)
    check(o, dict(groups=3, members=5, memberships=6, orders=1, gmv=70, member_buyers=0,
                  writers=1, store_coverage=2 / 3, joins=6))
    e = run(brand_ws, "2024-01")["overall"].execute().to_dict("records")[0]
    check(e, dict(declared_groups=4, groups=0, members=0, orders=0, gmv=0, active_rate=None,
                  aov=None, gmv_share=None, store_coverage=0.0))


def _sorted(t) -> list[dict]:
    return sorted(t.to_pyarrow().to_pylist(), key=repr)


def test_many_periods_in_one_query(brand_ws):
    """community_periods (what `siyu metrics compute` stores) = community of each period."""
    src = Sources.of(brand_ws)
    periods = periods_between("2025-01", "2025-04", zone=brand_ws.settings.zone)
    many = community_periods(src, periods)
    for p in periods:
        one = community(src, p)
        for level in ("overall", "by_type", "by_store", "groups"):
            t = many[level]
            assert _sorted(t.filter(t.period == str(p)).drop("period")) == _sorted(one[level])
        for level, j in many["joins"].items():
            assert _sorted(j.filter(j.period == str(p)).drop("period")) == \
                _sorted(one["joins"][level])
    overall = {r["period"]: r for r in many["overall"].to_pyarrow().to_pylist()}
    assert sorted(overall) == ["2025-01", "2025-02", "2025-03", "2025-04"]
    assert (overall["2025-03"]["members"], overall["2025-03"]["memberships"],
            overall["2025-03"]["joins"], overall["2025-03"]["orders"]) == (5, 6, 3, 5)


def test_a_join_counts_once_by_the_least_source_of_its_instant(ws, tmp_path):
    """Starts of one membership at one instant open one stretch, counted under the least of
    their sources (a null source only when none has one); the same on the cached sources."""
    b = Brand()
    b.add("touchpoints", field_ref="G1", field="group_chat", name="一群", group_type="normal")
    at = "2025-03-05 10:00"
    for key, sources in {"wecom:a": ("referral", "qr_code"), "wecom:b": ("", "referral"),
                         "wecom:c": ("", ""), "wecom:d": ("qr_code",)}.items():
        for s in sources:
            b.add("relationships", consumer_key=key, field="group_chat", action="start",
                  occurred_at=at, field_ref="G1", source=s)
    b.rel("wecom:d", "group_chat", "end", at, "G1")  # joined and left at one instant: a join
    b.load(ws, tmp_path)
    p = [parse_period("2025-03", zone=ws.settings.zone)]
    want = {("qr_code", 2), ("referral", 1), ("unknown", 1)}
    src = Sources.of(ws)
    j = community_periods(src, p)["joins"]["overall"].to_pyarrow().to_pylist()
    assert {(r["source"], r["joins"]) for r in j} == want
    with src.cached() as c:
        j = community_periods(c, p)["joins"]["overall"].to_pyarrow().to_pylist()
    assert {(r["source"], r["joins"]) for r in j} == want

def test_latest_touchpoint_version_wins(brand_ws, tmp_path):
    from siyu.ingest import import_files

    f = tmp_path / "tp2.csv"
    f.write_text("field_ref,field,name,store_id,group_type\n"
                 "G4,group_chat,三店会员群,S3,member\n", encoding="utf-8")
    assert import_files(brand_ws, "touchpoints", [f]).loaded == 1
    r = run(brand_ws)
    assert rows(r["groups"], "field_ref")["G4"]["store_id"] == "S3"
    assert set(rows(r["by_store"], "store_id")) == {"S1", "S2", "S3"}
    check(r["overall"].execute().to_dict("records")[0],
          dict(declared_groups=4, stores_covered=2, store_coverage=2 / 3))


# --- CLI ----------------------------------------------------------------------------------

def test_cli_json(brand_ws, cli):
    home = str(brand_ws.home)
    brand_ws.close()
    d = cli.json("metrics", "community", "--period", "2025-03", "--home", home)
    assert d["period"] == "2025-03" and set(d["by_type"]) == {"normal", "member"}
    o = d["overall"]
    assert (o["groups"], o["members"], o["orders"], o["gmv"]) == (3, 5, 5, 730.0)
    assert o["store_coverage"] == pytest.approx(1 / 3, abs=1e-6)
    assert o["joins_by_source"] == {"qr_code": 1, "referral": 1, "unknown": 1}
    assert d["by_type"]["member"]["mean_members_per_group"] == 1.5
    stores = {s["store_id"]: s for s in d["by_store"]}
    assert set(stores) == {None, "S1", "S2"} and stores["S2"]["conversion"] is None
    g = {x["field_ref"]: x for x in d["groups"]}
    assert list(g) == ["G1", "G2", "G3", "G4"]
    assert g["G1"]["joins_by_source"] == {"qr_code": 1, "referral": 1}
    assert g["G3"]["members"] == 0 and g["G3"]["active_rate"] is None
    assert g["G4"]["store_id"] is None and g["G1"]["at_capacity"] is False
    assert "groups" not in g["G1"]
    # --grain names the notation: a week
    w = cli.json("metrics", "community", "--period", "2025-W10", "--grain", "week",
                 "--home", home)
    assert w["period"] == "2025-W10" and w["overall"]["orders"] == 3  # 3–9 March


def test_cli_tables_and_errors(brand_ws, cli, tmp_path, monkeypatch):
    home = str(brand_ws.home)
    brand_ws.close()
    r = cli("metrics", "community", "--period", "2025-03", "--home", home)
    for text in ("群数 groups", "成员 members", "活跃率 active rate", "会员群 member", "G1"):
        assert text in r.stdout
    r = cli("metrics", "community", "--period", "2025-3-x", "--home", home, ok=False)
    assert r.exit_code == 2
    from siyu.workspace import Workspace

    other = Workspace.init(tmp_path / "fresh")
    other.close()
    r = cli("metrics", "community", "--period", "2025-03", "--home", str(other.home),
            ok=False)
    assert r.exit_code == 1 and "siyu identity resolve" in r.output
