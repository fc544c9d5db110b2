"""`siyu tag why` and `siyu tag list`: the rule, version and computed time, and the facts that
met it (or not) for one consumer; manual tags say who set them and when."""

from __future__ import annotations

import pytest

from siyu.tags.compute import compute
from siyu.tags.manual import set_tag
from siyu.tags.service import list_tags, why
from tests.tags.brand import AS_OF, RULE, tws  # noqa: F401
from tests.tags.test_compute import DEFS


@pytest.fixture(scope="module")
def done(tws):  # noqa: F811
    from siyu.value.service import cycles

    (tws.home / "tags.yaml").write_text(DEFS, encoding="utf-8")
    cycles(tws, as_of=AS_OF)
    set_tag(tws, "member:u3", "VIP", "gold", actor="cli:alice")
    return compute(tws, as_of=AS_OF)


def test_why_rule_lists_the_counted_events(tws, done):  # noqa: F811
    w = why(tws, "member:u3", "抗衰老需求")
    assert (w["has_tag"], w["kind"], w["group"], w["status"]) == (True, "rule", "兴趣偏好", "ok")
    assert w["definition"] == RULE and w["as_of"] == "2025-03-31"
    assert w["rule_version"] and w["computed_at"] and w["changed_since_compute"] is False
    [term] = w["facts"]["terms"]
    assert (term["holds"], term["value"]) == (True, 2)
    assert term["window"] == ["2025-03-02T00:00:00+08:00", "2025-04-01T00:00:00+08:00"]
    assert [(e["at"], e["dwell_seconds"], e["category"]) for e in term["events"]] == [
        ("2025-03-02T00:00:00+08:00", 180, "抗衰老"), ("2025-03-31T23:59:00+08:00", 600, "抗衰老")]


def test_why_not_shows_what_was_missing(tws, done):  # noqa: F811
    w = why(tws, "member:u4", "抗衰老需求")
    assert w["has_tag"] is False and w["values"] == []
    [term] = w["facts"]["terms"]
    assert (term["holds"], term["value"]) == (False, 1)
    assert [e["at"] for e in term["events"]] == ["2025-03-15T10:00:00+08:00"]


def test_why_rule_with_several_terms(tws, done):  # noqa: F811
    w = why(tws, "member:u8", "抗衰老复购")
    terms = {t["term"]: t for t in w["facts"]["terms"]}
    assert terms['tag("抗衰老需求")']["holds"] is True
    assert terms['tag("抗衰老需求")']["values"] == [None]
    assert terms["tier >= 3"] | {} == {"term": "tier >= 3", "holds": True, "value": 3,
                                       "period": "2025-03"}
    assert terms['tag("VIP")']["holds"] is False and w["has_tag"] is False


def test_why_manual_says_who_and_when(tws, done):  # noqa: F811
    w = why(tws, "member:u3", "VIP")
    m = w["facts"]["manual"]
    assert (w["has_tag"], w["values"], m["actor"], m["key_type"]) == (True, ["gold"],
                                                                     "cli:alice", "member")
    assert m["set_at"] and m["source"] == "cli"


def test_why_text_tag_shows_cues_and_spans(tws, done):  # noqa: F811
    w = why(tws, "wecom:u1", "购买周期到了")
    msgs = w["facts"]["messages"]
    assert [(m["at"], m["cue"], m["span"], m["counted"]) for m in msgs] == [
        ("2025-03-10T10:00:00+08:00", "用完了", [0, 3], True),
        ("2025-03-20T10:00:00+08:00", "用完了", [0, 3], True)]
    # a negated cue is shown, but not counted
    w2 = why(tws, "member:u2", "购买周期到了")
    assert w2["has_tag"] is False
    assert [(m["counted"], m["negated"]) for m in w2["facts"]["messages"]] == [(False, True)]


def test_why_model_tags(tws, done):  # noqa: F811
    w = why(tws, "member:u5", "关系层级")
    assert w["values"] == ["4"]
    assert w["facts"] == {"model": "tier", "period": "2025-03", "tier": 4, "member": True,
                          "purchase_days": 2, "propagations": 0}
    c = why(tws, "pos:u16", "复购到期")["facts"]["cycles"]
    assert [(x["category"], x["next_due"]) for x in c] == [("护肤", "2025-03-06")]
    s = why(tws, "pos:u16", "CLV十分位")
    assert s["status"] == "skipped" and "clv_predictions" in s["facts"]["missing"]


def test_unknown_tag_suggests(tws, done):  # noqa: F811
    from siyu.errors import UsageError

    with pytest.raises(UsageError, match="did you mean 抗衰老需求"):
        why(tws, "member:u3", "抗衰老需")


def test_list_groups_tags_and_counts(tws, done):  # noqa: F811
    got = list_tags(tws)
    groups = {g["group"]: {t["tag"]: t for t in g["tags"]} for g in got["groups"]}
    assert list(groups) == ["兴趣偏好", "关系与价值", "聊天场景"]
    assert groups["兴趣偏好"]["抗衰老需求"]["consumers"] == 2
    assert groups["兴趣偏好"]["VIP"] | {} == {
        "tag": "VIP", "kind": "manual", "definition": "门店认定", "description": "门店认定",
        "consumers": 1, "status": "ok"}
    assert groups["关系与价值"]["CLV十分位"]["status"] == "skipped"
    assert got["as_of"] == "2025-03-31"


def test_cli_why_and_list(tws, done, cli):  # noqa: F811
    home = str(tws.home)
    tws.close()
    text = cli("tag", "why", "member:u3", "抗衰老需求", "--home", home).stdout
    assert "carries tag '抗衰老需求'" in text and "✔ views(last 30d" in text
    assert "2025-03-02T00:00:00+08:00" in text
    manual = cli("tag", "why", "member:u3", "VIP", "--home", home).stdout
    assert "manual, set by cli:alice at" in manual
    chat = cli("tag", "why", "wecom:u1", "购买周期到了", "--home", home).stdout
    assert "「用完了」 [0, 3]" in chat
    assert cli.json("tag", "why", "member:u4", "抗衰老需求", "--home", home)["has_tag"] is False
    listed = cli.json("tag", "list", "--home", home)
    assert [g["group"] for g in listed["groups"]] == ["兴趣偏好", "关系与价值", "聊天场景"]
    got = cli.json("tag", "compute", "--as-of", "2025-03-31", "--only", "rule", "--home", home)
    assert {t["tag"]: t["consumers"] for t in got["tags"] if t["kind"] == "rule"} == {
        "抗衰老需求": 2, "抗衰老复购": 1, "浏览护肤": 5}
    assert "抗衰老需求" in cli("tag", "list", "--home", home).stdout
    table = cli("tag", "compute", "--as-of", "2025-03-31", "--home", home).stdout
    assert "tags (as of 2025-03-31)" in table and "skipped:" in table
