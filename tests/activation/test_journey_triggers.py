"""Every trigger kind on a hand-built brand under the simulated clock: who enters, and when
(brand time) — birthday, inactivity, purchase cycle due, chat scenario, audience entry,
churn risk, coupon expiring — and the other actions (coupon, tag, task, webhook, handover)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from siyu.activation.runner import run_until
from siyu.activation.store import deploy
from siyu.ops.tables import coupon_grants, guide_tasks, journey_enrolments
from siyu.workspace import Workspace
from tests.activation.journey_support import journey, local, log, sends, shown
from tests.models.builder import Brand


def brand() -> Brand:
    b = Brand()
    b.add("consumers", consumer_key="wecom:u1", name="王芳", birthday="1990-03-08")
    b.add("consumers", consumer_key="wecom:u2", name="李娜", birthday="1988-07-01")
    # u2, u3 in the private domain, last seen 1 and 2 February → 30 days quiet on 3 and 4 March
    b.rel("wecom:u2", "guide", "start", "2025-01-01 10:00", "g1")
    b.add("interactions", consumer_key="wecom:u2", field="guide", type="view",
          occurred_at="2025-02-01 10:00")
    b.rel("wecom:u3", "guide", "start", "2025-01-01 10:00", "g1")
    b.add("interactions", consumer_key="wecom:u3", field="guide", type="click",
          occurred_at="2025-02-02 23:00")
    # u4 left the private domain: never "inactive"
    b.rel("wecom:u4", "guide", "start", "2025-01-01 10:00", "g1")
    b.rel("wecom:u4", "guide", "end", "2025-01-20 10:00", "g1")
    b.add("interactions", consumer_key="wecom:u4", field="guide", type="view",
          occurred_at="2025-02-01 10:00")
    # u5 writes that the cream is running out (cycle_due) on the 4th; "谢谢" on the 5th
    b.add("interactions", consumer_key="wecom:u5", field="guide", type="message",
          occurred_at="2025-03-04 15:00", text="面霜快用完了")
    b.add("interactions", consumer_key="wecom:u5", field="guide", type="message",
          occurred_at="2025-03-05 15:00", text="谢谢")
    # u6: engaged long ago, an unread brand message of 28 Feb 12:00 → high risk from 3 Mar
    # 12:00 (72 h), so newly risky at the start of 4 March
    b.rel("wecom:u6", "guide", "start", "2025-01-01 10:00", "g1")
    b.add("interactions", consumer_key="wecom:u6", field="guide", type="like",
          occurred_at="2025-01-05 10:00")
    b.add("interactions", consumer_key="wecom:u6", field="guide", type="message_sent",
          occurred_at="2025-02-28 12:00")
    # u1's coupon expires on the 7th (3 days ahead on the 4th); u2's was redeemed
    b.add("coupons", consumer_key="wecom:u1", coupon_id="K1", action="issued",
          occurred_at="2025-02-20 10:00", expires_at="2025-03-07")
    b.add("coupons", consumer_key="wecom:u2", coupon_id="K2", action="issued",
          occurred_at="2025-02-20 10:00", expires_at="2025-03-07")
    b.add("coupons", consumer_key="wecom:u2", coupon_id="K2", action="redeemed",
          occurred_at="2025-02-25 10:00")
    return b


JOURNEYS = {
    "bday": "{type: date, attribute: birthday, days_before: 3}",
    "quiet": "{type: inactivity, days: 30}",
    "cycle": "{type: purchase_cycle_due, days_before: 1}",
    "chat": "{type: event, event: message, where: {scenario: cycle_due}}",
    "vip": "{type: audience, audience: vip, change: enter}",
    "churn": "{type: churn_risk}",
    "expiring": "{type: date, attribute: coupon_expiry, days_before: 3}",
}


@pytest.fixture
def bws(tmp_path):
    ws = Workspace.init(tmp_path / "ws", brand_name="小林咖啡")
    brand().load(ws, tmp_path)
    raw = ws.warehouse.raw
    ids = dict((k.split(":")[1], c) for c, k in
               raw.execute("SELECT consumer_id, key FROM identity_map").fetchall())
    raw.execute("CREATE TABLE purchase_cycles (consumer_id VARCHAR, category VARCHAR, "
                "next_due DATE)")
    raw.execute("INSERT INTO purchase_cycles VALUES (?, '面霜', DATE '2025-03-06'), "
                "(?, '咖啡', DATE '2025-04-06')", [ids["u1"], ids["u3"]])
    raw.execute('CREATE TABLE audience_changes (audience VARCHAR, consumer_id VARCHAR, '
                'change VARCHAR, refresh_id VARCHAR, "at" TIMESTAMP)')
    raw.execute("INSERT INTO audience_changes VALUES ('vip', ?, 'enter', 'r1', "
                "TIMESTAMP '2025-03-04 02:00'), ('vip', ?, 'leave', 'r1', "
                "TIMESTAMP '2025-03-04 02:00'), ('other', ?, 'enter', 'r1', "
                "TIMESTAMP '2025-03-04 02:00')", [ids["u2"], ids["u3"], ids["u4"]])
    ws.ids = {c: k for k, c in ids.items()}
    yield ws
    ws.close()


def test_who_enters_when(bws):
    for name, trig in JOURNEYS.items():
        deploy(bws.ops, journey(name, trig), actor="t")
    run_until(bws, local("2025-03-08 00:00"), start=local("2025-03-02 12:00"), deliver=False)
    with bws.ops.engine.connect() as c:
        rows = c.execute(select(journey_enrolments.c.journey, journey_enrolments.c.consumer_id,
                                journey_enrolments.c.enrolled_at, journey_enrolments.c.status)
                         .order_by(journey_enrolments.c.journey,
                                   journey_enrolments.c.enrolled_at)).all()
    got = [(j, bws.ids[c], shown(at), st) for j, c, at, st in rows]
    assert got == [
        ("bday", "u1", "2025-03-05 00:00", "done"),
        ("chat", "u5", "2025-03-04 15:00", "done"),
        ("churn", "u6", "2025-03-04 00:00", "done"),
        ("cycle", "u1", "2025-03-05 00:00", "done"),
        ("expiring", "u1", "2025-03-04 00:00", "done"),
        ("quiet", "u2", "2025-03-03 00:00", "done"),
        ("quiet", "u3", "2025-03-04 00:00", "done"),
        ("vip", "u2", "2025-03-04 10:00", "done"),
    ]
    # the midnight entries are sent when the quiet hours end
    assert [(bws.ids[s["consumer_id"]], s["text"], s["at"]) for s in sends(bws)
            if s["text"] == "quiet"] == [("u2", "quiet", "2025-03-03 08:30"),
                                         ("u3", "quiet", "2025-03-04 08:30")]


ACTIONS = """\
  - coupon: {template_id: BDAY-30, face_value: 30, threshold: 199, valid_days: 10}
  - tag: {tag: 生日关怀, group: care}
  - task: {kind: birthday_call, title: "给{name|顾客}打生日电话", script: "祝{name}生日快乐", due_in: 2d}
  - webhook: {url: "https://crm.example.com/hook", body: {name: "{name}", kind: birthday}}
  - branch:
      if: {audience: 'city = "上海"'}
      then: s6
      else: s7
  - handover: {reason: 上海顾客人工跟进}
    next: end
  - exit: {reason: not_shanghai}
"""


def test_actions_write_coupons_tasks_webhooks_and_tags(bws):
    deploy(bws.ops, journey("care", "{type: date, attribute: birthday, days_before: 3}",
                            ACTIONS), actor="t")
    run_until(bws, local("2025-03-06 00:00"), start=local("2025-03-04 00:00"), deliver=False)
    with bws.ops.engine.connect() as c:
        coupons = c.execute(select(coupon_grants.c.template_id, coupon_grants.c.face_value,
                                   coupon_grants.c.threshold, coupon_grants.c.issued_at,
                                   coupon_grants.c.expires_at)).all()
        tasks = c.execute(select(guide_tasks.c.kind, guide_tasks.c.title, guide_tasks.c.script,
                                 guide_tasks.c.due_at).order_by(guide_tasks.c.kind)).all()
        status = c.execute(select(journey_enrolments.c.status,
                                  journey_enrolments.c.exit_reason)).all()
    assert [(t, f, th, shown(i), shown(e)) for t, f, th, i, e in coupons] == [
        ("BDAY-30", 30.0, 199.0, "2025-03-05 00:00", "2025-03-15 00:00")]
    assert [(k, ti, sc, shown(d)) for k, ti, sc, d in tasks] == [
        ("birthday_call", "给王芳打生日电话", "祝王芳生日快乐", "2025-03-07 00:00")]
    (hook,) = sends(bws)
    assert hook["channel"] == "webhook" and hook["recipient"] == "https://crm.example.com/hook"
    with bws.ops.engine.connect() as c:
        from siyu.ops.tables import outbox

        body = c.execute(select(outbox.c.payload)).scalar()["body"]
    assert body == {"name": "王芳", "kind": "birthday", "consumer_id": hook["consumer_id"],
                    "journey": "care"}
    assert [r["detail"] for r in log(bws, "tag")] == [{"tag": "生日关怀", "group": "care",
                                                       "op": "add"}]
    from siyu.ops.tables import manual_tags

    with bws.ops.engine.connect() as c:
        tags = c.execute(select(manual_tags.c.consumer_id, manual_tags.c.tag,
                                manual_tags.c.tag_group, manual_tags.c.actor)).all()
    assert [(bws.ids[c], t, g, a) for c, t, g, a in tags] == [
        ("u1", "生日关怀", "care", "journey:care")]
    # u1 has no city: not in 'city = "上海"' → exit step
    assert status == [("exited", "not_shanghai")]
