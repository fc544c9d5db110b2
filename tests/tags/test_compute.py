"""`siyu tag compute` on the hand-built tag brand: exact carriers of each kind at the end of
2025-03-31, the rule's window edges, skipped tags, --only, manual tags never overwritten and
the all-or-nothing swap of tag_values."""

from __future__ import annotations

import pytest

from siyu.audience import members
from siyu.models.rfm import rfm
from siyu.models.sources import Sources
from siyu.tags.compute import STAGE, compute
from siyu.tags.context import instant_of
from siyu.tags.definitions import starter_text
from siyu.tags.kinds import KINDS, TagKind, register
from siyu.tags.manual import set_tag
from tests.models.test_tiers import EXPECTED as TIERS
from tests.tags.brand import (  # noqa: F401
    AS_OF,
    REVOKED,
    RULE,
    RULE_MEMBERS,
    carriers,
    people,
    tws,
)

DEFS = starter_text().replace("groups:\n", f"""groups:
  兴趣偏好:
    抗衰老需求:
      kind: rule
      rule: '{RULE}'
    抗衰老复购:
      kind: rule
      rule: 'tag("抗衰老需求") and tier >= 3 and tag("VIP")'
      value: 高
    浏览护肤:
      kind: rule
      rule: 'views(last 30d, category in ["护肤", "抗衰老"]) >= 1 and not tier = 5'
    VIP:
      kind: manual
      description: 门店认定
    未知场景:
      kind: text
      scenario: no_such_scenario
""", 1)


@pytest.fixture(scope="module")
def computed(tws):  # noqa: F811
    from siyu.value.service import cycles

    (tws.home / "tags.yaml").write_text(DEFS, encoding="utf-8")
    cycles(tws, as_of=AS_OF)
    set_tag(tws, "member:u3", "VIP", "gold", actor="cli:test")
    set_tag(tws, "member:u5", "老客", group="门店", actor="cli:test")
    return compute(tws, as_of=AS_OF)


def by_tag(result) -> dict[str, dict]:
    return {t["tag"]: t for t in result["tags"]}


def test_rule_tag_counts_filtered_views_at_the_window_edges(tws, computed):  # noqa: F811
    assert carriers(tws, "抗衰老需求") == {p: None for p in RULE_MEMBERS}
    # the same expression as an audience selects the same consumers
    who = people(tws)
    assert {who[c] for c in members(tws, RULE, AS_OF)} == RULE_MEMBERS


def test_rule_in_list_and_not(tws, computed):  # noqa: F811
    # any view of 护肤 or 抗衰老 in the window, minus tier 5 (u6): u3 u4 u5 u7 u8
    assert set(carriers(tws, "浏览护肤")) == {"u3", "u4", "u5", "u7", "u8"}


def test_rule_using_other_tags_reads_this_compute(tws, computed):  # noqa: F811
    # 抗衰老需求 (u3, u8) and tier >= 3 (both) and the manual VIP (u3 only); value 高
    assert carriers(tws, "抗衰老复购") == {"u3": "高"}


def test_model_tier_tag_is_the_ladder(tws, computed):  # noqa: F811
    # u14 (tier 5) revoked consent for profiling: no computed tags
    assert carriers(tws, "关系层级") == {p: str(t) for p, t in TIERS.items() if p not in REVOKED}


def test_model_rfm_tag_is_the_segment(tws, computed):  # noqa: F811
    who = people(tws)
    seg = rfm(Sources.of(tws), instant_of(AS_OF, tws.settings.zone)).execute()
    assert carriers(tws, "RFM分群") == {who[r.consumer_id]: r.segment for r in seg.itertuples()
                                       if who[r.consumer_id] not in REVOKED}
    assert carriers(tws, "RFM分群")["u12"] == "high_value_loyal"


def test_model_purchase_cycle_due(tws, computed):  # noqa: F811
    # u16's 护肤 cycle is 30 days: due 2025-03-06; u20 is due 04-19 (> 7 days); u21 no cycle
    assert carriers(tws, "复购到期") == {"u16": "护肤"}


def test_missing_model_tables_are_reported_not_silent(computed):
    tags = by_tag(computed)
    for name in ("CLV十分位", "流失风险十分位"):
        assert tags[name]["status"] == "skipped" and tags[name]["consumers"] == 0
        assert "clv_predictions" in tags[name]["reason"]
        assert "siyu clv predict" in tags[name]["reason"]
    assert computed["skipped"] == 3
    assert "the lexicon has no scenario 'no_such_scenario'; valid: anger" in \
        tags["未知场景"]["reason"]


def test_text_tags_from_messages(tws, computed):  # noqa: F811
    # u1 wrote 用完了 on 03-10 and 03-20: the value is the latest hit's time; u2's 还没用完呢
    # is negated
    assert carriers(tws, "购买周期到了") == {"u1": "2025-03-20T10:00:00+08:00"}
    assert carriers(tws, "价格敏感") == {"u9": "2025-03-28T10:00:00+08:00"}
    # u13's complaint (02-20) is outside the 30-day window
    assert carriers(tws, "投诉售后") == {}


def test_manual_tags_with_source_and_group(tws, computed):  # noqa: F811
    assert carriers(tws, "VIP") == {"u3": "gold"}
    assert carriers(tws, "老客") == {"u5": None}
    t = tws.warehouse.table("tag_values")
    rows = t.filter(t.kind == "manual").select("tag", "tag_group", "source", "rule_version") \
        .order_by("tag").to_pyarrow().to_pylist()
    assert rows == [
        {"tag": "VIP", "tag_group": "兴趣偏好", "source": "manual:cli:test",
         "rule_version": "manual"},
        {"tag": "老客", "tag_group": "门店", "source": "manual:cli:test",
         "rule_version": "manual"},
    ]


def test_every_row_carries_source_version_and_time(tws, computed):  # noqa: F811
    t = tws.warehouse.table("tag_values")
    assert list(t.columns) == ["consumer_id", "tag_group", "tag", "value", "kind", "source",
                               "rule_version", "computed_at"]
    df = t.execute()
    assert df.notna()[["source", "rule_version", "computed_at"]].all().all()
    rule = df[df.tag == "抗衰老需求"]
    assert set(rule.source) == {"rule:抗衰老需求"} and rule.rule_version.nunique() == 1
    assert set(df[df.tag == "购买周期到了"].source) == {"text:cycle_due"}
    assert set(df[df.tag == "关系层级"].source) == {"model:tier"}
    assert computed["rows"] == len(df)
    assert STAGE not in tws.warehouse.ibis.list_tables()


def test_manual_never_overwritten_and_only_one_kind(tws, computed):  # noqa: F811
    t = tws.warehouse.table("tag_values")
    before = t.filter(t.tag == "VIP").execute()
    again = compute(tws, as_of=AS_OF, only="rule")
    assert again["only"] == "rule"
    after = t.filter(t.tag == "VIP").execute()
    assert list(after.value) == list(before.value) == ["gold"]
    # the other kinds' rows are kept as they were (same computed time); rules are new
    df = t.execute()
    old_time = before.computed_at.iloc[0]
    assert (df[df.kind == "model"].computed_at == old_time).all()
    assert (df[df.kind == "rule"].computed_at > old_time).all()
    assert set(carriers(tws, "关系层级")) == set(TIERS) - REVOKED
    assert carriers(tws, "抗衰老复购") == {"u3": "高"}
    # and a full refresh still keeps the manual value
    compute(tws, as_of=AS_OF)
    assert carriers(tws, "VIP") == {"u3": "gold"}


def test_only_also_computes_new_or_changed_tags_of_other_kinds(tws, computed):  # noqa: F811
    t = tws.warehouse.table("tag_values")
    tier_time = t.filter(t.tag == "关系层级").computed_at.max().execute()
    extra = DEFS.replace("    VIP:\n", "    三级会员:\n      kind: model\n      model: tier\n"
                         "      values: [3]\n    VIP:\n", 1)
    extra = extra.replace("model: purchase_cycle_due     # needs `siyu clv cycles`; value = "
                          "the category\n      within_days: 7",
                          "model: purchase_cycle_due\n      within_days: 60")
    (tws.home / "tags.yaml").write_text(extra, encoding="utf-8")
    try:
        got = compute(tws, as_of=AS_OF, only="rule")
        kinds = {x["tag"]: "ms" in x for x in got["tags"]}  # ms = computed this time
        assert kinds["三级会员"] and kinds["复购到期"] and not kinds["关系层级"]
        assert set(carriers(tws, "三级会员")) == {p for p, v in TIERS.items() if v == 3}
        assert carriers(tws, "复购到期") == {"u16": "护肤", "u20": "护肤"}  # due 04-19
        assert t.filter(t.tag == "关系层级").computed_at.max().execute() == tier_time
    finally:
        (tws.home / "tags.yaml").write_text(DEFS, encoding="utf-8")
        compute(tws, as_of=AS_OF)


def test_a_failing_tag_leaves_the_old_table_whole(tws, computed):  # noqa: F811
    @register
    class Broken(TagKind):
        name = "broken_test_kind"

        def compute(self, ctx, d):
            raise RuntimeError("boom")

    try:
        before = tws.warehouse.table("tag_values").count().execute()
        (tws.home / "tags.yaml").write_text(
            DEFS + "  坏:\n    坏标签:\n      kind: broken_test_kind\n", encoding="utf-8")
        with pytest.raises(RuntimeError, match="boom"):
            compute(tws, as_of=AS_OF)
        assert tws.warehouse.table("tag_values").count().execute() == before
        assert STAGE not in tws.warehouse.ibis.list_tables()
    finally:
        KINDS.pop("broken_test_kind")
        (tws.home / "tags.yaml").write_text(DEFS, encoding="utf-8")


def test_unknown_only_kind(tws):  # noqa: F811
    from siyu.errors import UsageError

    with pytest.raises(UsageError, match="--only"):
        compute(tws, as_of=AS_OF, only="nonsense")


def test_profiling_revocations_remove_computed_tags_not_manual_ones(tws, computed):  # noqa: F811
    from datetime import UTC, datetime

    from sqlalchemy import delete

    from siyu.ops.tables import consent_events
    from siyu.tags.service import why

    assert "u14" not in carriers(tws, "RFM分群") and "u12" in carriers(tws, "RFM分群")
    assert "u6" in carriers(tws, "关系层级")  # revoked only after the snapshot
    w = why(tws, "member:u14", "关系层级")
    assert w["has_tag"] is False and w["profiling_revoked_at"] == "2025-03-01T10:00:00+08:00"
    # a revocation recorded through siyu (ops store) counts too, and a manual tag stays
    who = {v: k for k, v in people(tws).items()}
    set_tag(tws, "member:u8", "VIP", "silver", actor="cli:test")
    with tws.ops.engine.begin() as c:
        c.execute(consent_events.insert().values(
            consumer_id=who["u8"], purpose="profiling", channel="all", granted=False,
            at=datetime(2025, 3, 5, tzinfo=UTC), actor="cli:test", source="test"))
    try:
        compute(tws, as_of=AS_OF)
        assert "u8" not in carriers(tws, "抗衰老需求") and "u8" not in carriers(tws, "关系层级")
        assert carriers(tws, "VIP")["u8"] == "silver"
    finally:
        with tws.ops.engine.begin() as c:
            c.execute(delete(consent_events).where(consent_events.c.source == "test"))
        compute(tws, as_of=AS_OF)
    assert "u8" in carriers(tws, "抗衰老需求")


def test_compute_rebuilds_the_audience_index_for_its_day(tws, computed):  # noqa: F811
    from siyu.audience.index import load_index
    from siyu.audience.service import count

    assert computed["index"]["as_of"] == AS_OF.isoformat()
    assert load_index(tws).as_of == AS_OF
    got = count(tws, 'tag("抗衰老需求")', AS_OF, explain=True)
    assert got["index"] is True and got["count"] == len(RULE_MEMBERS)
    assert [t["from"] for t in got["terms"]] == ["index"]


def test_the_index_reuses_the_model_tags_tier_and_rfm_exactly(tws, computed):  # noqa: F811
    """The index built at the end of a compute takes tier and RFM from the model tags' values
    (computed once): every tier and segment count equals the warehouse's."""
    from siyu.audience.service import count
    from siyu.models.rfm import SEGMENTS

    exprs = [f"tier = {t}" for t in range(6)] + [f'rfm = "{s}"' for s in SEGMENTS]
    for e in exprs:
        fast = count(tws, e, AS_OF, explain=True)
        assert fast["index"] is True, e
        assert fast["count"] == len(members(tws, e, AS_OF)), e
