"""Audiences compiled to Ibis on a hand-built brand: exact members at the end of 2025-03-31.

The brand is the tier brand of tests/models/test_tiers.py (tiers known per person) plus
attributes, group chats, messages and views."""

from __future__ import annotations

import operator
from datetime import UTC, date, datetime, time, timedelta

import pytest

from siyu.audience import AudienceNotReady, count, members, parse
from siyu.audience.compile import compile_audience
from siyu.models.rfm import rfm
from siyu.models.sources import Sources
from siyu.workspace import Workspace
from tests.models.test_tiers import EXPECTED as TIERS
from tests.models.test_tiers import FEB, march_brand

AS_OF = date(2025, 3, 31)
PEOPLE = {f"u{i}" for i in range(1, 17)}


def audience_brand():
    b = march_brand()
    # attributes; u3's later row wins; u9's row is on its other key (same person)
    b.add("consumers", consumer_key="wecom:u1", city="上海", province="上海", gender="女",
          birthday="1990-03-05")
    b.add("consumers", consumer_key="member:u2", city="北京", province="北京", gender="男",
          birthday="1985-12-01")
    b.add("consumers", consumer_key="member:u3", city="杭州", gender="male")
    b.add("consumers", consumer_key="member:u3", city="上海", gender="female")
    b.add("consumers", consumer_key="wecom:u9", city="深圳", province="广东", gender="male",
          birthday="1992-03-20")
    # group chats: u1 in g-001; u3 left g-001 in March; u5 joins g-002 late on the 31st;
    # u4 joins after as_of
    b.rel("wecom:u1", "group_chat", "start", FEB, "g-001")
    b.rel("member:u3", "group_chat", "start", FEB, "g-001")
    b.rel("member:u3", "group_chat", "end", "2025-03-20 10:00", "g-001")
    b.rel("member:u5", "group_chat", "start", "2025-03-31 23:00", "g-002")
    b.rel("member:u4", "group_chat", "start", "2025-04-01 10:00", "g-001")
    # interactions: u1 wrote twice in March (and once in January); u2 wrote once and viewed;
    # the brand wrote to u3 (not a visit)
    for at in ("2025-01-10 10:00", "2025-03-10 10:00", "2025-03-20 10:00"):
        b.add("interactions", consumer_key="wecom:u1", field="group_chat", type="message",
              occurred_at=at, field_ref="g-001", text="用完了")
    b.add("interactions", consumer_key="member:u2", field="mini_program", type="message",
          occurred_at="2025-03-15 10:00")
    b.add("interactions", consumer_key="member:u2", field="mini_program", type="view",
          occurred_at="2025-03-15 10:05", dwell_seconds=200)
    b.add("interactions", consumer_key="member:u3", field="guide", type="message_sent",
          occurred_at="2025-03-12 10:00")
    return b


@pytest.fixture(scope="module")
def bws(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SIYU_LANG", "en")
        mp.setenv("SIYU_ID_SALT", "test-salt")
        tmp = tmp_path_factory.mktemp("audience")
        w = Workspace.init(tmp / "ws", brand_name="测试品牌")
        audience_brand().load(w, tmp)
        yield w
        w.close()


@pytest.fixture(scope="module")
def person(bws) -> dict[str, str]:
    idm = bws.warehouse.ibis.table("identity_map").execute()
    return {r.consumer_id: r.key.split(":", 1)[1] for r in idm.itertuples()}


@pytest.fixture
def who(bws, person):
    def run(text: str, as_of: date = AS_OF) -> set[str]:
        return {person[c] for c in members(bws, text, as_of)}
    return run


def test_the_universe_is_every_person(who):
    assert who('not city = "nowhere"') == PEOPLE


@pytest.mark.parametrize("text", ["tier >= 4", "tier = 0", "tier in [1]", "tier < 3",
                                  "tier != 3"])
def test_tier(who, text):
    tree = parse(text)
    tier = {p: TIERS.get(p, 0) for p in PEOPLE}
    ops = {">=": operator.ge, "=": operator.eq, "<": operator.lt, "!=": operator.ne}
    if tree.op == "in":
        want = {p for p, t in tier.items() if t in tree.value}
    else:
        want = {p for p, t in tier.items() if ops[tree.op](t, tree.value)}
    assert who(text) == want


def test_tier_exact_sets(who):
    assert who("tier >= 4") == {"u5", "u6", "u11", "u12", "u14"}
    assert who("tier = 0") == {"u15", "u16"}
    assert who("tier = 1") == {"u1", "u7", "u9"}


def test_tier_in_february_is_the_month_to_date(who):
    # at the end of 2025-02-15 nobody has bought yet as a member: members are tier 2
    assert who("tier = 3", date(2025, 2, 15)) == set()
    assert who("tier = 3", date(2025, 2, 28)) == {"u2"}


def test_in_field(who):
    assert who('in_field("group_chat")') == {"u1", "u5"}
    assert who('in_field("group_chat", "g-001")') == {"u1"}
    assert who('in_field("group_chat", "g-001")', date(2025, 3, 19)) == {"u1", "u3"}
    assert who('in_field("guide")') == {"u1", "u7", "u9"}
    assert who('in_field("membership")') == {"u2", "u3", "u4", "u5", "u6", "u8", "u10", "u11",
                                              "u12", "u13", "u14"}


def test_event_windows(who):
    # the 30-day window starts at 2025-03-02 00:00: u6's, u11's and u14's 1 March orders
    # are outside; u12's orders under two keys add up; u8's refunded order counts nowhere
    assert who("orders(last 30d) >= 2") == {"u4", "u5", "u7", "u9", "u10", "u12", "u13"}
    assert who("orders(last 31d) >= 2") == {"u4", "u5", "u6", "u7", "u9", "u10", "u11", "u12",
                                            "u13", "u14"}
    # zero counts include consumers with no event at all
    assert who("orders(last 30d) = 0") == {"u1", "u2", "u15"}
    assert who("purchase_days(last 30d) >= 2") == {"u5", "u7", "u9", "u10", "u12", "u13"}
    assert who("gmv(last 30d) >= 100") == {"u7", "u16"}
    assert who("gmv(last 1w) > 0") == set()
    assert who("messages(last 30d) >= 2") == {"u1"}
    assert who("messages(last 12w) >= 3") == {"u1"}
    assert who("visits(last 30d) >= 1") == {"u1", "u2"}
    assert who("views(last 30d) = 1") == {"u2"}
    assert who("shares(last 4w) >= 1") == {"u6", "u11", "u12"}


def test_attributes(who):
    assert who('city = "上海"') == {"u1", "u3"}  # u3's latest row
    assert who('city = "杭州"') == set()
    assert who('gender = "男"') == {"u2", "u9"}
    assert who("birthday_month = 3") == {"u1", "u9"}
    assert who('city in ["北京", "深圳"]') == {"u2", "u9"}
    assert who('province != "上海"') == {"u2", "u9"}  # a missing province matches nothing


def test_boolean_combinations(who):
    assert who('city = "上海" and tier >= 2') == {"u3"}
    assert who('city = "上海" or in_field("group_chat")') == {"u1", "u3", "u5"}
    assert who('not in_field("membership")') == {"u1", "u7", "u9", "u15", "u16"}
    assert who("tier >= 4 and not orders(last 30d) >= 2") == {"u6", "u11", "u14"}
    assert who('not (tier = 0 or gender = "男") and in_field("guide")') == {"u1", "u7"}
    assert who('(tier = 1 or tier = 5) and (in_field("group_chat") or shares(last 4w) >= 1)'
               ) == {"u1", "u6"}


def test_rfm_is_the_model_segment(bws, who, person):
    at = datetime.combine(AS_OF + timedelta(days=1), time(0),
                          tzinfo=bws.settings.zone).astimezone(UTC)
    seg = rfm(Sources.of(bws), at).execute()
    for code in ("new", "dormant"):
        want = {person[r.consumer_id] for r in seg.itertuples() if r.segment == code}
        assert who(f'rfm = "{code}"') == want
    assert "u2" not in who('rfm = "new"')  # first order 40 days before
    buyers = {person[c] for c in seg.consumer_id}
    assert who('not rfm = "new"') == (PEOPLE - buyers) | who('rfm != "new"')


def test_count_service(bws):
    r = count(bws, "tier >= 4", as_of=AS_OF)
    assert r["count"] == 5 and isinstance(r["ms"], float)


def test_tags_audiences_and_deciles_need_their_tables(bws):
    src = Sources.of(bws)
    for text, word in [('tag("x")', "tags"), ('in_audience("x")', "audiences"),
                       ("churn_decile >= 9", "predictions"), ("clv_decile = 1", "predictions")]:
        with pytest.raises(AudienceNotReady, match=word):
            compile_audience(src, parse(text), AS_OF)


def test_tags_audiences_and_deciles_from_tables(tmp_path):
    with Workspace.init(tmp_path / "ws", brand_name="t") as w:
        march_brand().load(w, tmp_path)
        idm = w.warehouse.ibis.table("identity_map").execute()
        cid = {r.key.split(":", 1)[1]: r.consumer_id for r in idm.itertuples()}
        person = {v: k for k, v in cid.items()}
        raw = w.warehouse.raw
        raw.execute("CREATE TABLE tag_values (consumer_id VARCHAR, tag VARCHAR, value VARCHAR)")
        raw.executemany("INSERT INTO tag_values VALUES (?, ?, ?)", [
            (cid["u1"], "抗衰老需求", "是"), (cid["u2"], "抗衰老需求", "否"),
            (cid["u3"], "肤质", "干性")])
        raw.execute("CREATE TABLE audience_members (audience VARCHAR, consumer_id VARCHAR)")
        raw.executemany("INSERT INTO audience_members VALUES (?, ?)", [
            ("高潜", cid["u1"]), ("高潜", cid["u5"]), ("其他", cid["u6"])])
        raw.execute("CREATE TABLE clv_predictions (consumer_id VARCHAR, churn_decile BIGINT, "
                    "total DOUBLE)")
        # totals 10, 20, 20, 30, 40 → CLV deciles 1, 3, 3, 7, 9
        raw.executemany("INSERT INTO clv_predictions VALUES (?, ?, ?)", [
            (cid["u3"], 1, 10.0), (cid["u4"], 5, 20.0), (cid["u5"], 5, 20.0),
            (cid["u6"], 9, 30.0), (cid["u7"], 10, 40.0)])

        def who(text):
            return {person[c] for c in members(w, text, AS_OF)}

        assert who('tag("抗衰老需求")') == {"u1", "u2"}
        assert who('tag("抗衰老需求", "是") or tag("肤质")') == {"u1", "u3"}
        assert who('in_audience("高潜")') == {"u1", "u5"}
        assert who("clv_decile = 3") == {"u4", "u5"}
        assert who("clv_decile >= 7") == {"u6", "u7"}
        assert who("churn_decile >= 9 and tier >= 4") == {"u6"}
