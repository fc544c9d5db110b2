"""§13 template 3, dormant wake-up: 30 days without interaction → a care message about the
last purchase at 10:00; no reply within 72 hours → an exclusive coupon."""

from __future__ import annotations

from tests.activation.template_support import (
    Brand,
    grants,
    guides,
    outbox,
    run,
    setup,
    tasks,
)


def brand() -> Brand:
    b = guides(Brand())
    for i, name in enumerate(("王芳", "李娜", "张伟", "刘洋"), 1):
        b.add("consumers", consumer_key=f"wecom:u{i}", name=name)
        b.rel(f"wecom:u{i}", "guide", "start", "2025-01-05 10:00", "g1")
    b.order("wecom:u1", "2025-01-20 12:00", 128.0, order_id="o1")
    b.add("order_items", order_id="o1", sku="BEAN-1", quantity=1, unit_price=128.0,
          category="咖啡豆")

    def seen(n, key, at, typ="view", text=""):
        b.add("interactions", event_id=f"i{n}", consumer_key=key, field="guide", type=typ,
              occurred_at=at, text=text)

    seen(1, "wecom:u1", "2025-02-01 09:00")               # silent since → care, then coupon
    seen(2, "wecom:u1", "2025-02-20 09:00", "message_sent")  # the brand wrote: not activity
    seen(3, "wecom:u2", "2025-02-01 20:00")               # replies within 72 h → care only
    seen(4, "wecom:u2", "2025-03-05 11:00", "message", "谢谢关心，挺好的")
    seen(5, "wecom:u3", "2025-02-01 10:00")
    b.rel("wecom:u3", "guide", "end", "2025-02-10 10:00", "g1")  # left the private domain
    seen(6, "wecom:u4", "2025-02-02 10:00")               # enters 03-04, buys 03-05: exits
    b.order("wecom:u4", "2025-03-05 18:00", 60.0)
    return b


def test_dormant_wakeup(tmp_path, cli):
    home, who = setup(tmp_path, brand(), "dormant_wakeup", "2025-03-01")
    got = run(cli, home, "2025-03-01", "2025-03-12")
    assert got["entered"] == 3  # u1, u2 on 03-03; u4 on 03-04
    assert outbox(home, who) == [
        ("u1", "wecom", "2025-03-03 10:00",
         "王芳，好久不见！您上次选的咖啡豆用得怎么样？需要保养或搭配的小建议吗？"),
        ("u2", "wecom", "2025-03-03 10:00",
         "李娜，好久不见！您上次选的宝贝用得怎么样？需要保养或搭配的小建议吗？"),
        ("u4", "wecom", "2025-03-04 10:00",
         "刘洋，好久不见！您上次选的宝贝用得怎么样？需要保养或搭配的小建议吗？"),
        ("u1", "wecom", "2025-03-06 10:00", "王芳，为您准备了一张 20 元专属券，7 天内有效，是否查看？")]
    assert grants(home, who) == [("u1", "WAKEUP-20", "2025-03-06 10:00")]
    assert tasks(home, who) == []
    st = cli.json("journey", "stats", "dormant_wakeup", "--home", home)
    assert (st["entered"], st["done"], st["exited"]) == (3, 2, 1)
    goal = st["goal"]["arms"]["all"]
    assert (goal["enrolled"], goal["converted"]) == (3, 1)  # u4's order within 14 days
