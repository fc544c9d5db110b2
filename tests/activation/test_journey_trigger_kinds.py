"""The event triggers test_journey_triggers.py leaves out — a relationship ending in a field,
a share, a review, a coupon action, an order with ``where`` keys, an interaction type, a
consumer leaving an audience — each with its ``where`` filter keeping someone out; the tag
action removing a tag; the handover action; the three re-entry policies; conditions over a
duration window (``since: 12h``); and a send to a consumer without an address on the channel
(suppressed, ``no_recipient``, not counted against the caps)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from siyu.activation.engine import enrol_many, run_pass
from siyu.activation.runner import run_until
from siyu.activation.store import definition, deploy
from siyu.ops.tables import guide_tasks, journey_enrolments, manual_tags
from siyu.workspace import Workspace
from tests.activation.journey_support import journey, local, log, sends, shown
from tests.models.builder import Brand


def brand() -> Brand:
    b = Brand()
    for i in range(1, 15):
        b.add("consumers", consumer_key=f"wecom:u{i}", name=f"顾客{i}")
    # u1 leaves their guide on the 4th; u2 leaves a group (another field); u3 starts
    b.rel("wecom:u1", "guide", "start", "2025-02-01 10:00", "g1")
    b.rel("wecom:u1", "guide", "end", "2025-03-04 15:00", "g1")
    b.rel("wecom:u2", "group_chat", "start", "2025-02-01 10:00", "grp1")
    b.rel("wecom:u2", "group_chat", "end", "2025-03-04 16:00", "grp1")
    b.rel("wecom:u3", "guide", "start", "2025-03-04 17:00", "g1")
    # u4 shares an article, u5 a video
    b.add("shares", consumer_key="wecom:u4", occurred_at="2025-03-04 11:00",
          content_type="article")
    b.add("shares", consumer_key="wecom:u5", occurred_at="2025-03-04 11:30",
          content_type="video")
    # u6 reviews with 2 stars, u7 with 5
    b.add("reviews", consumer_key="wecom:u6", rating=2, occurred_at="2025-03-04 12:00",
          text="包装破损")
    b.add("reviews", consumer_key="wecom:u7", rating=5, occurred_at="2025-03-04 12:30")
    # u8 claims a WELCOME-10 coupon; u9 is only issued one
    b.add("coupons", consumer_key="wecom:u8", coupon_id="K8", action="claimed",
          occurred_at="2025-03-04 13:00", template_id="WELCOME-10")
    b.add("coupons", consumer_key="wecom:u9", coupon_id="K9", action="issued",
          occurred_at="2025-03-04 13:00", template_id="WELCOME-10")
    # u10 pays 300 in store S1, u11 50 in S1, u12 300 in S2; a refunded order never counts
    b.order("wecom:u10", "2025-03-04 14:00", 300.0, store_id="S1")
    b.order("wecom:u11", "2025-03-04 14:10", 50.0, store_id="S1")
    b.order("wecom:u12", "2025-03-04 14:20", 300.0, store_id="S2")
    b.order("wecom:u13", "2025-03-04 14:30", 900.0, status="refunded", store_id="S1")
    # u13 likes a post, u14 only views one
    b.add("interactions", consumer_key="wecom:u13", field="guide", type="like",
          occurred_at="2025-03-04 18:00")
    b.add("interactions", consumer_key="wecom:u14", field="guide", type="view",
          occurred_at="2025-03-04 18:00")
    return b


JOURNEYS = {
    "left_guide": "{type: event, event: relationship, where: {field: guide, action: end}}",
    "new_guide": "{type: event, event: relationship, where: {field: guide}}",
    "shared": "{type: event, event: share, where: {content_type: article}}",
    "claimed": "{type: event, event: coupon, where: {action: claimed, template_id: WELCOME-10}}",
    "big_s1": "{type: event, event: order, where: {store_id: S1, min_amount: 200}}",
    "liked": "{type: event, event: interaction, where: {type: like}}",
}
BAD_REVIEW = """\
  - handover: {reason: 差评人工跟进, script: "{name|顾客}给了差评，请致电了解情况"}
"""
VIP = """\
  - tag: {tag: VIP关怀, group: care, op: {op}}
"""


@pytest.fixture
def bws(tmp_path):
    ws = Workspace.init(tmp_path / "ws", brand_name="小林咖啡")
    brand().load(ws, tmp_path)
    raw = ws.warehouse.raw
    ids = dict((k.split(":")[1], c) for c, k in
               raw.execute("SELECT consumer_id, key FROM identity_map").fetchall())
    raw.execute('CREATE TABLE audience_changes (audience VARCHAR, consumer_id VARCHAR, '
                'change VARCHAR, refresh_id VARCHAR, "at" TIMESTAMP)')
    # u1 and u2 enter "vip" on the 3rd (UTC 12:00 = 20:00 brand time); u1 leaves on the 4th
    raw.execute("INSERT INTO audience_changes VALUES "
                "('vip', ?, 'enter', 'r1', TIMESTAMP '2025-03-03 12:00'), "
                "('vip', ?, 'enter', 'r1', TIMESTAMP '2025-03-03 12:00'), "
                "('vip', ?, 'leave', 'r2', TIMESTAMP '2025-03-04 12:00')",
                [ids["u1"], ids["u2"], ids["u1"]])
    ws.ids = {c: k for k, c in ids.items()}
    yield ws
    ws.close()


def test_event_and_audience_triggers_with_their_filters(bws):
    for name, trig in JOURNEYS.items():
        deploy(bws.ops, journey(name, trig), actor="t")
    deploy(bws.ops, journey("bad_review", "{type: event, event: review, where: {max_rating: 2}}",
                            BAD_REVIEW), actor="t")
    deploy(bws.ops, journey("vip_in", "{type: audience, audience: vip, change: enter}",
                            VIP.replace("{op}", "add")), actor="t")
    deploy(bws.ops, journey("vip_out", "{type: audience, audience: vip, change: leave}",
                            VIP.replace("{op}", "remove")), actor="t")
    run_until(bws, local("2025-03-06 00:00"), start=local("2025-03-03 12:00"), deliver=False)
    with bws.ops.engine.connect() as c:
        rows = c.execute(select(journey_enrolments.c.journey, journey_enrolments.c.consumer_id,
                                journey_enrolments.c.enrolled_at, journey_enrolments.c.status)
                         .order_by(journey_enrolments.c.journey,
                                   journey_enrolments.c.enrolled_at)).all()
        tasks = c.execute(select(guide_tasks.c.consumer_id, guide_tasks.c.kind,
                                 guide_tasks.c.title, guide_tasks.c.script,
                                 guide_tasks.c.due_at, guide_tasks.c.source)).all()
        tags = c.execute(select(manual_tags.c.consumer_id, manual_tags.c.tag)).all()
    ids = bws.ids
    assert sorted((j, ids[c], shown(at), st) for j, c, at, st in rows) == [
        ("bad_review", "u6", "2025-03-04 12:00", "done"),
        ("big_s1", "u10", "2025-03-04 14:00", "done"),
        ("claimed", "u8", "2025-03-04 13:00", "done"),
        ("left_guide", "u1", "2025-03-04 15:00", "done"),
        ("liked", "u13", "2025-03-04 18:00", "done"),
        ("new_guide", "u3", "2025-03-04 17:00", "done"),  # u1 started before the run
        ("shared", "u4", "2025-03-04 11:00", "done"),
        ("vip_in", "u1", "2025-03-03 20:00", "done"),
        ("vip_in", "u2", "2025-03-03 20:00", "done"),
        ("vip_out", "u1", "2025-03-04 20:00", "done"),
    ]
    got = sorted((s["text"], ids[s["consumer_id"]], s["at"]) for s in sends(bws))
    assert got == [("big_s1", "u10", "2025-03-04 14:00"), ("claimed", "u8", "2025-03-04 13:00"),
                   ("left_guide", "u1", "2025-03-04 15:00"),
                   ("liked", "u13", "2025-03-04 18:00"), ("new_guide", "u3", "2025-03-04 17:00"),
                   ("shared", "u4", "2025-03-04 11:00")]
    # the handover action: a guide task of kind handover, due 4 hours after the review
    assert [(ids[c], k, ti, sc, shown(d), src) for c, k, ti, sc, d, src in tasks] == [
        ("u6", "handover", "差评人工跟进", "顾客6给了差评，请致电了解情况", "2025-03-04 16:00",
         "journey:bad_review/s1")]
    # the tag added on entering vip is removed when u1 leaves it; u2 keeps it
    assert [ids[c] for c, t in tags if t == "VIP关怀"] == ["u2"]
    assert sorted((r["journey"], r["detail"]["op"]) for r in log(bws, "tag")) == [
        ("vip_in", "add"), ("vip_in", "add"), ("vip_out", "remove")]


ONE = """\
name: once_{pol}
title: 再入策略
trigger: {{type: manual}}
re_entry: {re}
steps:
  - send: {{channel: file, purpose: service, template: "第一条"}}
  - wait: {{days: 2}}
  - send: {{channel: file, purpose: service, template: "第二条"}}
"""


@pytest.mark.parametrize(("pol", "re", "expect"), [
    # entries tried on days 0 (enters), 1 (still active), 3 (finished on day 2), 5
    ("never", "{policy: never}", ["03-03"]),
    ("after_exit", "{policy: after_exit}", ["03-03", "03-06", "03-08"]),
    ("after_days", "{policy: after_days, days: 4}", ["03-03", "03-08"]),
])
def test_re_entry_policies(ws, pol, re, expect):
    deploy(ws.ops, ONE.format(pol=pol, re=re), actor="t")
    start = local("2025-03-03 10:00")
    entered = []
    for day, ref in ((0, "a"), (1, "b"), (3, "c"), (5, "d")):
        at = start + timedelta(days=day)
        run_pass(ws, now=at)  # the earlier enrolments advance to this day first
        with ws.ops.engine.begin() as c:
            if enrol_many(c, definition(c, f"once_{pol}", 1), 1, [("c1", at, ref)]):
                entered.append(shown(at)[5:10])
        # the same trigger row never enters twice, whatever the policy
        with ws.ops.engine.begin() as c:
            assert enrol_many(c, definition(c, f"once_{pol}", 1), 1, [("c1", at, ref)]) == 0
    run_pass(ws, now=start + timedelta(days=10))
    assert entered == expect
    assert len([s for s in sends(ws) if s["text"] == "第二条"]) == len(expect)


SINCE = """\
name: recent
title: 近期下单
trigger: {type: manual}
steps:
  - branch: {if: {event: order, since: 12h}, then: half_day, else: day}
  - id: day
    branch: {if: {event: order, where: {min_amount: 100}, since: 24h}, then: one_day, else: none}
  - id: half_day
    send: {channel: file, purpose: service, template: "12h"}
    next: end
  - id: one_day
    send: {channel: file, purpose: service, template: "24h"}
    next: end
  - id: none
    exit: {reason: no_recent_order}
"""


def test_conditions_with_a_duration_window(bws):
    deploy(bws.ops, SINCE, actor="t")
    at = local("2025-03-05 10:00")
    who = {k: c for c, k in bws.ids.items()}
    with bws.ops.engine.begin() as c:
        enrol_many(c, definition(c, "recent", 1), 1,
                   [(who[u], at, "m") for u in ("u10", "u11", "u12", "u13", "u1")])
    run_pass(bws, now=at)
    # paid 03-04 14:00–14:20: inside 24 h, not 12 h; u11's 50 is under min_amount; u13's
    # order was refunded; u1 never ordered
    assert sorted((bws.ids[s["consumer_id"]], s["text"]) for s in sends(bws)) == [
        ("u10", "24h"), ("u12", "24h")]
    with bws.ops.engine.connect() as c:
        ended = c.execute(select(journey_enrolments.c.consumer_id, journey_enrolments.c.status,
                                 journey_enrolments.c.exit_reason)).all()
    assert sorted((bws.ids[c], s, r) for c, s, r in ended) == [
        ("u1", "exited", "no_recent_order"), ("u10", "done", None),
        ("u11", "exited", "no_recent_order"), ("u12", "done", None),
        ("u13", "exited", "no_recent_order")]


TWO_CHANNELS = """\
name: reach
title: 触达
trigger: {type: manual}
steps:
  - send: {channel: sms, template: "短信"}
  - send: {channel: wecom, template: "企微"}
  - send: {channel: file, template: "文件"}
"""


def test_a_send_without_an_address_is_suppressed_and_not_counted(bws):
    from siyu.ops.tables import send_counters

    deploy(bws.ops, TWO_CHANNELS, actor="t")
    at = local("2025-03-05 10:00")
    who = {k: c for c, k in bws.ids.items()}
    with bws.ops.engine.begin() as c:  # u4 is known only by a WeCom id: no phone for SMS
        enrol_many(c, definition(c, "reach", 1), 1, [(who["u4"], at, "m")])
    run_pass(bws, now=at)
    assert [(s["channel"], s["recipient"], s["text"]) for s in sends(bws)] == [
        ("wecom", "u4", "企微"), ("file", who["u4"], "文件")]
    assert [(r["step"], r["reason"], r["detail"]) for r in log(bws, "suppressed")] == [
        ("s1", "no_recipient", {"channel": "sms"})]
    with bws.ops.engine.connect() as c:
        counted = sorted(r[0] for r in c.execute(select(send_counters.c.bucket)))
    assert counted == ["d:2025-03-05:file", "d:2025-03-05:wecom", "w:2025-W10"]
