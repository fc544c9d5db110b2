"""Journey definitions: the documented example is valid, malformed files are refused with
the line and the reason of every problem, deploys are versioned."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from siyu.activation.definition import JourneyInvalid, parse_definition, validate_text
from siyu.activation.store import deploy, show

DOCS = Path(__file__).parents[2] / "docs" / "journeys.md"


def doc_example() -> str:
    return re.search(r"```yaml\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S).group(1)


def test_the_documented_example_is_valid():
    j = parse_definition(doc_example())
    assert j.name == "dormant_wakeup"
    assert [s.id for s in j.steps] == ["care", "s2", "replied", "coupon", "give20", "s6",
                                       "give10", "s8"]
    assert [s.kind for s in j.steps] == ["send", "wait", "branch", "split", "coupon", "send",
                                         "coupon", "send"]
    assert j.step("s6").next == "end" and j.step("give10").next == "s8"
    assert j.step("s8").next == "end"
    assert j.re_entry == {"policy": "after_days", "days": 90}
    assert j.goal == {"event": "order", "within_days": 14}


BAD = """\
name: Bad
title: 坏的
trigger: {type: event, event: orderz}
steps:
  - wait: {dayz: 1}
  - send: {channel: fax, template: "{nam}你好"}
    next: nowhere
  - split: {arms: [{name: a, share: 30}], holdout: 20}
  - branch: {if: {event: order, since: soon}, then: s1}
  - teleport: {}
goal: {event: order}
colour: red
"""


def test_every_problem_has_its_line_and_reason():
    got = [(p.line, p.path, p.reason) for p in validate_text(BAD)]
    assert got == [
        (12, "colour", "unknown key 'colour'; known: description, exit_when, goal, name, "
                       "re_entry, steps, title, trigger, triggers"),
        (1, "name", "name must match [a-z][a-z0-9_]* (at most 64 characters)"),
        (3, "trigger.event", "unknown event 'orderz'; known: order, relationship, share, "
                             "review, coupon, message, interaction"),
        (5, "steps[0].wait.dayz", "unknown key 'dayz'; known: days, hours, minutes, until"),
        (6, "steps[1].send.channel", "channel must be one of wecom, wecom_group, "
                                     "official_account, miniprogram, sms, email, file, "
                                     "console"),
        (6, "steps[1].send.template", "unknown template field 'nam'; known: name, gender, "
                                      "city, province, birthday, brand, consumer_id, journey, "
                                      "last_category, trigger_category, "
                                      "clicked_category"),
        (8, "steps[2].split", "arm shares and holdout add up to 50, not 100"),
        (9, "steps[3].branch", "branch needs 'else'"),
        (9, "steps[3].branch.if.since", "since must be enrolled, wait, or a duration like "
                                        "7d / 72h / 30m"),
        (10, "steps[4].teleport", "unknown step kind 'teleport'; known: wait, branch, split, "
                                  "exit, send, coupon, points, tag, task, webhook, handover"),
        (7, "steps[1].next", "no step with id 'nowhere' (use a step id or end)"),
        (11, "goal.within_days", "within_days must be a whole number ≥ 1"),
    ]


@pytest.mark.parametrize(("text", "line", "reason"), [
    ("name: a\ntitle: b\n  trigger: x\n", 3, "not valid YAML: mapping values are not allowed "
                                             "here"),
    ("name: a\nname: b\n", 2, "key given twice"),
    ("", None, "the file is empty"),
    ("- just\n- a list\n", 1, "a journey is a mapping with name, title, trigger and steps"),
])
def test_unreadable_files(text, line, reason):
    (p,) = validate_text(text)
    assert (p.line, p.reason) == (line, reason)


def test_parse_raises_with_all_problems():
    with pytest.raises(JourneyInvalid) as e:
        parse_definition(BAD, "bad.yaml")
    assert len(e.value.problems) == 12
    assert "bad.yaml" in str(e.value) and "line 3: trigger.event" in str(e.value)


def test_validate_command(cli, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD, encoding="utf-8")
    r = cli("journey", "validate", bad, ok=False)
    assert r.exit_code == 2
    assert f"{bad}:3: trigger.event: unknown event 'orderz'" in r.stdout
    good = tmp_path / "good.yaml"
    good.write_text(doc_example(), encoding="utf-8")
    assert cli.json("journey", "validate", good) == {"file": str(good), "valid": True,
                                                     "problems": []}
    r = cli("journey", "validate", bad, "--json", ok=False)
    assert r.exit_code == 2


def test_deploy_is_versioned(ws):
    text = doc_example()
    assert deploy(ws.ops, text, actor="t") == {"name": "dormant_wakeup", "version": 1,
                                              "changed": True, "status": "active"}
    assert deploy(ws.ops, text, actor="t")["changed"] is False
    got = deploy(ws.ops, text.replace("好久不见", "好久没见"), actor="t")
    assert got["version"] == 2 and got["changed"] is True
    info = show(ws.ops, "dormant_wakeup")
    assert [v["version"] for v in info["versions"]] == [1, 2]
    assert "好久没见" in info["source"]
    with pytest.raises(JourneyInvalid):
        deploy(ws.ops, BAD, actor="t")


def test_reasons_in_chinese(monkeypatch):
    monkeypatch.setenv("SIYU_LANG", "zh")
    got = [str(p) for p in validate_text(BAD)]
    assert got[2] == ("第 3 行: trigger.event: 未知事件 'orderz'；可用：order, relationship, "
                      "share, review, coupon, message, interaction")
    assert got[10] == "第 7 行: steps[1].next: 没有 id 为 'nowhere' 的步骤（应为步骤 id 或 end）"
    assert [str(p) for p in validate_text("name: a\nname: b\n")] == ["第 2 行: name: 键重复出现"]


def test_triggers_list_and_its_problems():
    from siyu.activation.definition import parse_definition

    ok = ("name: two\ntitle: 两个入口\ntriggers:\n  - {type: purchase_cycle_due, days_before: 3}\n"
          "  - {type: event, event: message, where: {scenario: cycle_due}}\n"
          "steps:\n  - send: {channel: wecom, template: 你好}\n")
    j = parse_definition(ok)
    assert [t["type"] for t in j.triggers] == ["purchase_cycle_due", "event"]
    assert j.trigger == j.triggers[0] and j.trigger_type == "purchase_cycle_due+event"
    one = parse_definition(ok.replace("triggers:\n  - {type: purchase_cycle_due, days_before: 3}"
                                      "\n  - ", "trigger: "))
    assert one.triggers == ({"type": "event", "event": "message",
                             "where": {"scenario": "cycle_due"}},)
    bad = ("name: two\ntitle: 坏\ntriggers:\n  - {type: purchase_cycle_due, days_before: -1}\n"
           "  - {type: manual}\n  - {type: date, attribute: anniversary}\n"
           "steps:\n  - send: {channel: wecom, template: 你好}\n")
    assert [(p.line, p.path, p.reason) for p in validate_text(bad)] == [
        (4, "triggers[0].days_before", "days_before must be a whole number ≥ 0"),
        (6, "triggers[2].attribute", "attribute must be one of birthday, coupon_expiry, "
                                     "points_expiry"),
        (5, "triggers[1]", "a manual trigger cannot be combined with other triggers")]
    both = "name: x\ntitle: x\ntrigger: {type: manual}\ntriggers: []\nsteps:\n  - exit: {}\n"
    assert [(p.line, p.path, p.reason) for p in validate_text(both)] == [
        (4, "triggers", "give trigger (one) or triggers (a list), not both")]
    empty = "name: x\ntitle: x\ntriggers: []\nsteps:\n  - exit: {}\n"
    assert [(p.line, p.path, p.reason) for p in validate_text(empty)] == [
        (3, "triggers", "triggers must be a non-empty list of triggers")]
    none = "name: x\ntitle: x\nsteps:\n  - exit: {}\n"
    assert [(p.line, p.reason) for p in validate_text(none)] == [
        (1, "missing required key 'trigger' (or 'triggers')")]


def test_template_fields_fall_back_field_by_field():
    from siyu.activation.actions import render

    tpl = "{trigger_category|last_category|您常用的商品}快用完了"
    assert render(tpl, {"trigger_category": "奶粉", "last_category": "咖啡"}) == "奶粉快用完了"
    assert render(tpl, {"trigger_category": None, "last_category": "咖啡"}) == "咖啡快用完了"
    assert render(tpl, {"trigger_category": "", "last_category": None}) == "您常用的商品快用完了"
    assert render("{name}", {}) == "" and render("{name|亲}", {"name": "王芳"}) == "王芳"
    bad = ("name: x\ntitle: x\ntrigger: {type: manual}\nsteps:\n"
           "  - send: {channel: wecom, template: '{trigger_category|categry|好物}'}\n")
    assert [(p.line, p.reason) for p in validate_text(bad)][0][1].startswith(
        "unknown template field 'categry'")


def test_new_reasons_in_chinese(monkeypatch):
    monkeypatch.setenv("SIYU_LANG", "zh")
    bad = ("name: x\ntitle: x\ntriggers: []\nsteps:\n  - points: {amount: 0}\n")
    assert [(p.line, p.reason) for p in validate_text(bad)] == [
        (3, "triggers 应为非空的触发列表"), (5, "amount 应为 1 到 10000000 之间的整数")]


def test_every_reason_has_chinese_wording(monkeypatch):
    """Each reason the validator gives is worded in Chinese under SIYU_LANG=zh (no English
    sentence left over)."""
    monkeypatch.setenv("SIYU_LANG", "zh")
    bad = ("name: X\ntitle: x\ntrigger: {type: audience, change: stay}\nre_entry: 3\n"
           "exit_when: {event: order}\ngoal: []\nsteps:\n"
           "  - 5\n"
           "  - {wait: 3}\n"
           "  - {tag: {tag: t, op: toggle}}\n"
           "  - {webhook: {url: ftp://x, body: 1}}\n"
           "  - {task: {kind: call, title: 打电话, due_in: soon}}\n"
           "  - {coupon: {template_id: C, face_value: -1}}\n"
           "  - {branch: {if: {colour: red}, then: end, else: end}}\n"
           "  - {branch: {if: {not: [1, 2]}, then: end, else: end}}\n"
           "  - {split: {arms: [{name: a, share: 200, goto: end}], holdout: 0}}\n")
    got = [(p.line, p.reason) for p in validate_text(bad)]
    assert got == [
        (1, "name 应匹配 [a-z][a-z0-9_]*（最多 64 个字符）"),
        (3, "audience 应为已保存人群的名称"),
        (3, "change 应为 enter 或 leave"),
        (8, "步骤应为含一个类型键的映射（wait, branch, split, exit, send, coupon, points, tag, "
            "task, webhook, handover）"),
        (9, "wait 的写法：{days, hours, minutes} 和/或 until: \"HH:MM\""),
        (10, "op 应为 add 或 remove"),
        (11, "url 应为 http:// 或 https:// 地址"),
        (11, "body 应为映射"),
        (12, "due_in 应为时长，如 1d / 4h"),
        (13, "face_value 应为 ≥ 0 的金额（元）"),
        (14, "未知条件 ['colour']；可用：event、audience、sent_unread、all、any 或 not"),
        (15, "条件应为映射：{event: …}、{audience: …}、{sent_unread: true}、{all: […]}、"
             "{any: […]} 或 {not: …}"),
        (16, "share 应为 (0, 100] 内的百分比"),
        (4, "re_entry 应为映射 {policy, days}"),
        (5, "exit_when 应为条件列表"),
        (6, "goal 应为映射 {event, within_days, where}"),
    ]
    assert not any(re.search(r"\b(must|takes|needs|or)\b", r) for _, r in got)
