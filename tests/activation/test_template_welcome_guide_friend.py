"""§13 template 1, welcome on a new guide friend: welcome + benefit at once (quiet hours
respected); day 7 with the benefit unclaimed → live-class invite; day 14 with a click on
content in the last 14 days → a 1:1 adviser task for the guide, about the category the
consumer clicked last."""

from __future__ import annotations

from sqlalchemy import select

from siyu.ops.tables import guide_tasks
from siyu.workspace import Workspace
from tests.activation.template_support import (
    Brand,
    grants,
    guides,
    outbox,
    run,
    setup,
    tasks,
)

WELCOME = "，欢迎添加小林咖啡专属导购！送您一张 10 元新人礼券，14 天内有效，是否查看？"
LIVE = "，本周有一场育儿直播课，专家在线答疑，是否需要为您预约？"
SCRIPT = "，看到您最近在关注{}，我是您的专属育儿顾问，可以根据宝宝月龄给您一些建议，方便聊聊吗？"


def brand() -> Brand:
    b = guides(Brand())
    for i, name in enumerate(("王芳", "李娜", "张伟", "刘洋"), 1):
        b.add("consumers", consumer_key=f"wecom:u{i}", name=name)
    # u1: friend of g1 at 11:00; claims the benefit, clicks 咖啡 then 奶粉 content → an
    # adviser task about 奶粉 (the last click)
    b.rel("wecom:u1", "guide", "start", "2025-03-03 11:00", "g1")
    b.add("coupons", event_id="cp1", coupon_id="W1", consumer_key="wecom:u1", action="claimed",
          occurred_at="2025-03-05 09:00", template_id="WELCOME-10")
    b.add("interactions", event_id="i0", consumer_key="wecom:u1", field="mini_program",
          type="click", occurred_at="2025-03-10 20:00", category="咖啡")
    b.add("interactions", event_id="i1", consumer_key="wecom:u1", field="mini_program",
          type="click", occurred_at="2025-03-15 20:00", category="奶粉")
    # u2: friend of g3 at 22:00 (quiet hours) → welcome at 08:30; never claims → live invite;
    # clicks 咖啡 content → an adviser task about 咖啡
    b.rel("wecom:u2", "guide", "start", "2025-03-03 22:00", "g3")
    b.add("interactions", event_id="i2", consumer_key="wecom:u2", field="mini_program",
          type="click", occurred_at="2025-03-15 20:00", category="咖啡")
    # u3: a friend before the run starts: never enters
    b.rel("wecom:u3", "guide", "start", "2025-02-01 10:00", "g1")
    # u4: friend of g1, claims, views but never clicks → no task
    b.rel("wecom:u4", "guide", "start", "2025-03-03 12:00", "g1")
    b.add("coupons", event_id="cp4", coupon_id="W4", consumer_key="wecom:u4", action="claimed",
          occurred_at="2025-03-05 09:00", template_id="WELCOME-10")
    b.add("interactions", event_id="i4", consumer_key="wecom:u4", field="mini_program",
          type="view", occurred_at="2025-03-15 20:00", category="奶粉")
    return b


def test_welcome_guide_friend(tmp_path, cli):
    home, who = setup(tmp_path, brand(), "welcome_guide_friend", "2025-03-04")
    got = run(cli, home, "2025-03-03", "2025-03-20")
    assert got["entered"] == 3
    assert grants(home, who) == [("u1", "WELCOME-10", "2025-03-03 11:00"),
                                 ("u4", "WELCOME-10", "2025-03-03 12:00"),
                                 ("u2", "WELCOME-10", "2025-03-03 22:00")]
    assert outbox(home, who) == [
        ("u1", "wecom", "2025-03-03 11:00", "王芳" + WELCOME),
        ("u4", "wecom", "2025-03-03 12:00", "刘洋" + WELCOME),
        ("u2", "wecom", "2025-03-04 08:30", "李娜" + WELCOME),
        ("u2", "wecom", "2025-03-11 10:00", "李娜" + LIVE)]
    got_tasks = tasks(home, who)
    assert sorted(got_tasks) == [
        ("u1", "g1", "adviser", "顾问1对1咨询邀请", "2025-03-18 10:00", "2025-03-18 10:00",
         "2025-03-20 10:00"),
        ("u2", "g3", "adviser", "顾问1对1咨询邀请", "2025-03-18 10:00", "2025-03-18 10:00",
         "2025-03-20 10:00")]
    ws = Workspace.open(home)
    try:
        with ws.ops.engine.connect() as c:
            scripts = dict(c.execute(select(guide_tasks.c.guide_id, guide_tasks.c.script)).all())
    finally:
        ws.close()
    assert scripts == {"g1": "王芳" + SCRIPT.format("奶粉"), "g3": "李娜" + SCRIPT.format("咖啡")}
