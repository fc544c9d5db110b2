"""§13 template 4, churn-risk escalation (DOMAIN §10): turning high-risk → L1 an automatic
care message; no engagement within 3 days → L2 a guide's care task; none within 4 more → L3
handed over to a person."""

from __future__ import annotations

from tests.activation.template_support import Brand, guides, outbox, run, setup, tasks

L1 = "，您上次购买的商品需要保养小贴士吗？有任何问题都可以随时找我们。"


def brand() -> Brand:
    b = guides(Brand())
    n = 0
    for i, name in enumerate(("王芳", "李娜", "张伟", "刘洋"), 1):
        key = f"wecom:u{i}"
        b.add("consumers", consumer_key=key, name=name)
        b.rel(key, "guide", "start", "2025-01-05 10:00", "g1" if i < 4 else "g3")
        # engaged and viewed on 1 February, a brand message unread since 25 February: from
        # 4 March 00:00 nothing engaged in 30 days → high risk (DOMAIN §10)
        for typ, at in (("message", "2025-02-01 10:00"), ("view", "2025-02-01 10:00"),
                        ("message_sent", "2025-02-25 10:00")):
            n += 1
            b.add("interactions", event_id=f"i{n}", consumer_key=key, field="guide",
                  type=typ, occurred_at=at, text="在的" if typ == "message" else "")
    b.add("interactions", event_id="r1", consumer_key="wecom:u2", field="guide",
          type="message", occurred_at="2025-03-05 12:00", text="最近挺好的")  # answers L1
    b.order("wecom:u3", "2025-03-06 12:00", 66.0)                          # buys: exits
    b.add("interactions", event_id="r2", consumer_key="wecom:u4", field="guide",
          type="like", occurred_at="2025-03-09 12:00")                     # answers L2
    return b


def test_churn_escalation(tmp_path, cli):
    home, who = setup(tmp_path, brand(), "churn_escalation", "2025-03-03")
    got = run(cli, home, "2025-03-02", "2025-03-13")
    assert got["entered"] == 4  # everyone turns high-risk at 4 March 00:00
    assert outbox(home, who) == [
        (u, "wecom", "2025-03-04 10:00", name + L1)
        for u, name in (("u1", "王芳"), ("u2", "李娜"), ("u3", "张伟"), ("u4", "刘洋"))]
    assert sorted(tasks(home, who)) == [
        ("u1", "g1", "care", "流失预警L2：情感关怀", "2025-03-07 10:00", "2025-03-07 10:00",
         "2025-03-09 10:00"),
        ("u1", "g1", "handover", "流失预警L3：请致电回访", "2025-03-11 10:00",
         "2025-03-11 10:00", "2025-03-11 14:00"),
        ("u4", "g3", "care", "流失预警L2：情感关怀", "2025-03-07 10:00", "2025-03-07 10:00",
         "2025-03-09 10:00")]
    st = cli.json("journey", "stats", "churn_escalation", "--home", home)
    assert (st["entered"], st["done"], st["exited"]) == (4, 3, 1)
