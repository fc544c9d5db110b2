"""HQ task rules: YAML checked with lines and reasons; `generate` makes exactly the tasks the
rules select on a day, once."""

from __future__ import annotations

from datetime import date

import pytest

from siyu.activation.task_rules import RulesInvalid, generate, load_rules, parse_rules
from siyu.activation.tasks import list_tasks
from tests.activation.tasks_brand import brand, consumer_ids, local

DAY = date(2025, 3, 3)


@pytest.fixture
def shop(ws, tmp_path):
    b = brand()
    for row in b.rows["consumers"]:
        row["birthday"] = {"phone:13800000003": "1988-03-06",
                           "phone:13800000002": "1990-03-07"}.get(row["consumer_key"], "")
    b.order("phone:13800000001", "2025-02-16 20:00", 50.0)  # 15 days before → invitation
    b.order("phone:13800000002", "2025-02-15 23:59", 50.0)  # 16 days
    b.order("phone:13800000002", "2025-02-17 00:00", 50.0)  # 14 days
    b.order("phone:13800000005", "2025-02-16 12:00", 50.0, status="refunded")
    b.add("coupons", event_id="cp1", coupon_id="CP1", consumer_key="phone:13800000002",
          action="issued", occurred_at="2025-02-20 10:00", expires_at="2025-03-06 10:00")
    b.add("coupons", event_id="cp2", coupon_id="CP2", consumer_key="phone:13800000001",
          action="issued", occurred_at="2025-02-20 10:00", expires_at="2025-03-06 10:00")
    b.add("coupons", event_id="cp3", coupon_id="CP2", consumer_key="phone:13800000001",
          action="redeemed", occurred_at="2025-02-21 10:00")
    b.add("coupons", event_id="cp4", coupon_id="CP4", consumer_key="phone:13800000004",
          action="claimed", occurred_at="2025-02-20 10:00", expires_at="2025-03-07 00:00")
    # last activity 30 days before: 13800000003 (a guide's friend) and 13800000004 (not)
    b.add("interactions", event_id="i1", consumer_key="phone:13800000003", field="guide",
          type="view", occurred_at="2025-02-01 10:00")
    b.add("interactions", event_id="i2", consumer_key="phone:13800000003", field="guide",
          type="message_sent", occurred_at="2025-02-20 10:00")  # the brand wrote: not activity
    b.add("interactions", event_id="i3", consumer_key="phone:13800000004", field="app",
          type="visit", occurred_at="2025-02-01 23:00")
    b.load(ws, tmp_path)
    return ws, consumer_ids(ws)


def test_generate_makes_the_days_tasks_once(shop):
    ws, ids = shop
    rules, _ = load_rules()
    got = generate(ws, rules, DAY, now=local("2025-03-03 00:00"))
    assert got == {"day": "2025-03-03", "expired": 0, "rules": [
        {"rule": "post_purchase_invite", "selected": 1, "created": 1, "existing": 0},
        {"rule": "birthday_care", "selected": 1, "created": 1, "existing": 0},
        {"rule": "coupon_expiry_reminder", "selected": 1, "created": 1, "existing": 0},
        {"rule": "dormant_care", "selected": 1, "created": 1, "existing": 0}]}
    tasks = list_tasks(ws.ops, now=local("2025-03-03 09:00"))
    by_key = {id_: k for k, id_ in ids.items()}
    assert sorted((t["source"], by_key[t["consumer_id"]], t["guide_id"], t["kind"])
                  for t in tasks) == [
        ("rule:birthday_care", "phone:13800000003", "g3", "care"),
        ("rule:coupon_expiry_reminder", "phone:13800000002", "g2", "reminder"),
        ("rule:dormant_care", "phone:13800000003", "g3", "care"),
        ("rule:post_purchase_invite", "phone:13800000001", "g1", "invite")]
    invite = next(t for t in tasks if t["kind"] == "invite")
    assert invite["title"] == "购买15天会员邀约"
    assert invite["script"].startswith("王芳，您半个月前选购的商品用得还习惯吗？")
    assert invite["due_at"] == local("2025-03-06 00:00")
    assert invite["invite_day"] == DAY
    reminder = next(t for t in tasks if t["kind"] == "reminder")
    assert "2025-03-06 到期" in reminder["script"]
    again = generate(ws, rules, DAY, now=local("2025-03-03 12:00"))
    assert [(r["created"], r["existing"]) for r in again["rules"]] == [(0, 1)] * 4
    assert len(list_tasks(ws.ops, now=local("2025-03-03 12:00"))) == 4


def test_generate_expires_stale_tasks_first(shop):
    ws, _ = shop
    rules, _ = load_rules()
    generate(ws, rules, DAY, now=local("2025-03-03 00:00"))
    # the reminder is due 03-05 00:00, the others 03-06 00:00; more than 7 days later they
    # expire (the day's new tasks of 03-13 and 03-14 are not due yet)
    got = generate(ws, rules, date(2025, 3, 13), now=local("2025-03-13 00:00"))
    assert got["expired"] == 1
    got = generate(ws, rules, date(2025, 3, 14), now=local("2025-03-14 00:00"))
    assert got["expired"] == 3
    assert sorted(t["status"] for t in list_tasks(ws.ops, now=local("2025-03-14 00:00"))) == [
        "expired"] * 4  # nothing new was selected on 03-13 or 03-14


def test_29_february_birthdays_are_kept_on_28_february(ws, tmp_path):
    from tests.models.builder import Brand

    b = Brand()
    b.add("consumers", consumer_key="phone:13900000001", name="闰年", birthday="2000-02-29")
    b.add("consumers", consumer_key="phone:13900000002", name="平年", birthday="2000-02-28")
    b.rel("phone:13900000001", "membership", "start", "2025-01-01 00:00")
    b.rel("phone:13900000002", "membership", "start", "2025-01-01 00:00")
    b.load(ws, tmp_path)
    rules = parse_rules("rules:\n  - {name: bd, title: 生日, kind: care, "
                        "when: {type: date, attribute: birthday, days_before: 0}}\n")
    assert generate(ws, rules, date(2025, 2, 28), now=local("2025-02-28 00:00"))["rules"][0][
        "selected"] == 2
    assert generate(ws, rules, date(2028, 2, 28), now=local("2028-02-28 00:00"))["rules"][0][
        "selected"] == 1


def test_rules_files_are_checked_with_lines_and_reasons():
    text = """rules:
  - name: ok
    title: 好
    kind: care
    when: {type: inactivity, days: 30}
  - name: Bad-Name
    title: 坏
    kind: care
    colour: red
    when: {type: purchase}
  - name: ok
    title: 重复
    kind: care
    due_days: -1
    audience: "tier >>= 3"
    when: {type: date, attribute: anniversary, days_before: 3}
"""
    with pytest.raises(RulesInvalid) as e:
        parse_rules(text, "t.yaml")
    msg = str(e.value)
    for part in ("line 6: rule 2: unknown key 'colour'",
                 "line 6: rule 2: name 'Bad-Name': expected [a-z][a-z0-9_]*",
                 "line 6: rule 2: when: missing 'days_after'",
                 "line 11: rule 3: name 'ok' used twice",
                 "line 11: rule 3: due_days -1: expected a whole number 0–365",
                 "line 11: rule 3: audience:",
                 "line 11: rule 3: when.attribute 'anniversary': expected one of birthday, "
                 "coupon_expiry"):
        assert part in msg
    assert "rule 1" not in msg
    with pytest.raises(RulesInvalid, match="cannot parse: line 2"):
        parse_rules("rules:\n  - name: a: b\n    title: x\n", "t.yaml")
    with pytest.raises(RulesInvalid, match="top-level `rules:` list"):
        parse_rules("- a\n")


def test_the_shipped_rules_and_a_workspace_file(tmp_path):
    rules, path = load_rules()
    assert [r.name for r in rules] == ["post_purchase_invite", "birthday_care",
                                       "coupon_expiry_reminder", "dormant_care"]
    (tmp_path / "task_rules.yaml").write_text(
        "rules:\n  - {name: only, title: 唯一, kind: care, when: {type: inactivity, days: 7}}\n",
        encoding="utf-8")
    rules, path = load_rules(None, tmp_path)
    assert ([r.name for r in rules], path) == (["only"], tmp_path / "task_rules.yaml")
