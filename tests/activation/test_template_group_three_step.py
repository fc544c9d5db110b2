"""§13 template 2, the group three-step touch: joining → newcomer pack (coupon + topic); day 3
without a message → icebreaker red packet; day 7 still silent → a personal greeting with a
recommendation. Writing in the group ends the sequence."""

from __future__ import annotations

from tests.activation.template_support import Brand, grants, guides, outbox, run, setup, tasks

PACK = "，欢迎入群！新人福利包已放入您的账户（5 元券），今天群里聊“你家宝宝最爱的辅食”，欢迎来分享～"
ICE = "，群里的破冰红包给您留了一个（3 元），来群里打个招呼就能用，是否查看？"
GREET = "，我是群里的小助手，看您最近比较忙～根据您之前的选择，{}的新品也许适合您，是否需要介绍？"


def brand() -> Brand:
    b = guides(Brand())
    for i, name in enumerate(("王芳", "李娜", "张伟", "刘洋"), 1):
        b.add("consumers", consumer_key=f"wecom:u{i}", name=name)
    b.order("wecom:u1", "2025-02-10 12:00", 68.0, order_id="o1")
    b.add("order_items", order_id="o1", sku="SNACK-1", quantity=2, unit_price=34.0,
          category="辅食")

    def joins(key, at):
        b.rel(key, "group_chat", "start", at, "grp-1")

    def says(n, key, at, text):
        b.add("interactions", event_id=f"m{n}", consumer_key=key, field="group_chat",
              field_ref="grp-1", type="message", occurred_at=at, text=text)

    joins("wecom:u1", "2025-03-03 10:00")  # silent throughout: all three steps
    joins("wecom:u2", "2025-03-03 12:00")
    says(1, "wecom:u2", "2025-03-04 09:00", "大家好")  # writes on day 1: pack only
    joins("wecom:u3", "2025-03-03 20:00")
    says(2, "wecom:u3", "2025-03-08 10:00", "谢谢红包")  # after the icebreaker: no greeting
    says(3, "wecom:u4", "2025-03-04 10:00", "在吗")  # wrote but never joined: not enrolled
    return b


def test_group_three_step(tmp_path, cli):
    home, who = setup(tmp_path, brand(), "group_three_step", "2025-03-03")
    got = run(cli, home, "2025-03-03", "2025-03-12")
    assert got["entered"] == 3
    assert outbox(home, who) == [
        ("u1", "wecom", "2025-03-03 10:00", "王芳" + PACK),
        ("u2", "wecom", "2025-03-03 12:00", "李娜" + PACK),
        ("u3", "wecom", "2025-03-03 20:00", "张伟" + PACK),
        ("u1", "wecom", "2025-03-06 10:00", "王芳" + ICE),
        ("u3", "wecom", "2025-03-06 20:00", "张伟" + ICE),
        ("u1", "wecom", "2025-03-10 10:00", "王芳" + GREET.format("辅食"))]
    assert grants(home, who) == [
        ("u1", "GROUP-NEW-5", "2025-03-03 10:00"), ("u2", "GROUP-NEW-5", "2025-03-03 12:00"),
        ("u3", "GROUP-NEW-5", "2025-03-03 20:00"), ("u1", "ICEBREAKER-3", "2025-03-06 10:00"),
        ("u3", "ICEBREAKER-3", "2025-03-06 20:00")]
    assert tasks(home, who) == []
    st = cli.json("journey", "stats", "group_three_step", "--home", home)
    assert (st["entered"], st["done"], st["exited"]) == (3, 1, 2)
