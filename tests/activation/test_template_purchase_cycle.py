"""§13 template 5, purchase cycle: the predicted next purchase due in 3 days (`siyu clv
cycles`), or a chat message saying the product is running out ("快吃完了", scenario
cycle_due) → half an hour later, the product as a bundle; one enrolment per need."""

from __future__ import annotations

from sqlalchemy import select

from siyu.ops.tables import journey_enrolments
from siyu.workspace import Workspace
from tests.activation.template_support import Brand, guides, outbox, run, setup, tasks

BUNDLE = "，{}快用完了吧？为您准备了囤货组合装，比单买更划算，是否查看？"


def brand() -> Brand:
    b = guides(Brand())
    for i, name in enumerate(("王芳", "李娜", "张伟", "刘洋"), 1):
        b.add("consumers", consumer_key=f"wecom:u{i}", name=name)
        b.rel(f"wecom:u{i}", "guide", "start", "2025-01-05 10:00", "g1")
    b.order("wecom:u1", "2025-02-10 12:00", 98.0, order_id="o1")
    b.add("order_items", order_id="o1", sku="BEAN-1", quantity=1, unit_price=98.0,
          category="咖啡豆")

    def says(n, key, at, text):
        b.add("interactions", event_id=f"m{n}", consumer_key=key, field="guide",
              type="message", occurred_at=at, text=text)

    says(1, "wecom:u1", "2025-03-03 15:00", "快吃完了，再来一盒")  # → bundle at 15:30
    says(2, "wecom:u1", "2025-03-06 15:00", "又快吃完了")         # re-entry after 14 days only
    says(3, "wecom:u2", "2025-03-03 21:10", "用完了")             # 21:40 is quiet → 08:30
    says(4, "wecom:u3", "2025-03-03 15:00", "谢谢，收到了")        # no scenario
    says(5, "wecom:u4", "2025-03-05 10:00", "快用完了")
    b.order("wecom:u4", "2025-03-05 10:10", 98.0)                  # buys first: exits
    return b


def test_purchase_cycle(tmp_path, cli):
    home, who = setup(tmp_path, brand(), "purchase_cycle", "2025-03-03")
    got = run(cli, home, "2025-03-03", "2025-03-08")
    assert got["entered"] == 3  # u1 (once), u2, u4
    assert outbox(home, who) == [
        ("u1", "wecom", "2025-03-03 15:30", "王芳" + BUNDLE.format("咖啡豆")),
        ("u2", "wecom", "2025-03-04 08:30", "李娜" + BUNDLE.format("您常用的商品"))]
    assert tasks(home, who) == []
    st = cli.json("journey", "stats", "purchase_cycle", "--home", home)
    assert (st["entered"], st["done"], st["exited"], st["deferred"]) == (3, 2, 1, 1)


def both_ways() -> Brand:
    """u1 is due by prediction, u2 writes that it is running out, u3 both."""
    b = guides(Brand())
    for i, name in enumerate(("王芳", "李娜", "张伟"), 1):
        b.add("consumers", consumer_key=f"wecom:u{i}", name=name)
        b.rel(f"wecom:u{i}", "guide", "start", "2025-01-05 10:00", "g1")

    def order(oid, key, at, category):
        b.order(key, at, 100.0, order_id=oid)
        b.add("order_items", order_id=oid, sku=f"SKU-{category}", quantity=1,
              unit_price=100.0, category=category)

    # 奶粉 every 14 days (u1, u3: category median 14, cycle 14): due on 1 and 2 March
    order("o1", "wecom:u1", "2025-02-01 12:00", "奶粉")
    order("o2", "wecom:u1", "2025-02-15 12:00", "奶粉")
    order("o3", "wecom:u3", "2025-02-02 12:00", "奶粉")
    order("o4", "wecom:u3", "2025-02-16 12:00", "奶粉")
    order("o5", "wecom:u2", "2025-02-20 12:00", "咖啡")  # one purchase day: no cycle
    b.add("interactions", event_id="m1", consumer_key="wecom:u2", field="guide",
          type="message", occurred_at="2025-02-26 15:00", text="快吃完了")
    b.add("interactions", event_id="m2", consumer_key="wecom:u3", field="guide",
          type="message", occurred_at="2025-02-27 20:00", text="用完了")
    return b


def test_purchase_cycle_by_prediction_or_chat(tmp_path, cli):
    home, who = setup(tmp_path, both_ways(), "purchase_cycle", "2025-02-25")
    cyc = cli.json("clv", "cycles", "--as-of", "2025-02-25", "--home", home)
    assert (cyc["rows"], cyc["consumers"]) == (3, 3)
    got = run(cli, home, "2025-02-25", "2025-03-05")
    assert got["entered"] == 3  # u3 found by the prediction and by the chat: enrolled once
    # u1 due 1 March → enters 26 Feb 00:00, 00:30 is quiet → 08:30; u3 due 2 March → 27 Feb;
    # u2 by chat at 15:00 → 15:30, the category of the last purchase
    assert outbox(home, who) == [
        ("u1", "wecom", "2025-02-26 08:30", "王芳" + BUNDLE.format("奶粉")),
        ("u2", "wecom", "2025-02-26 15:30", "李娜" + BUNDLE.format("咖啡")),
        ("u3", "wecom", "2025-02-27 08:30", "张伟" + BUNDLE.format("奶粉"))]
    ws = Workspace.open(home)
    try:
        with ws.ops.engine.connect() as c:
            refs = sorted((who[r.consumer_id], r.trigger_ref.split(":")[0]) for r in c.execute(
                select(journey_enrolments).where(journey_enrolments.c.journey == "purchase_cycle")))
    finally:
        ws.close()
    assert refs == [("u1", "cycle"), ("u2", "message"), ("u3", "cycle")]
    listed = cli.json("journey", "list", "--home", home)
    assert [j["trigger"] for j in listed["journeys"]] == ["purchase_cycle_due+event"]
