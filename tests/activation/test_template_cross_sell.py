"""§13 template 7, cross-sell after a purchase of category A — A is the main category of the
order that enrolled the consumer: day 3 usage guide, day 7 related-category content, day 15
without a repurchase → an adviser task."""

from __future__ import annotations

from sqlalchemy import select

from siyu.ops.tables import guide_tasks
from siyu.workspace import Workspace
from tests.activation.template_support import Brand, guides, outbox, run, setup, tasks

GUIDE = "，{}用起来还顺手吗？为您整理了一份使用小贴士，有疑问随时问我～"
RELATED = "，很多买{}的顾客会搭配相关好物一起用，这里有一份选购指南，是否查看？"
SCRIPT = "，{}用了半个月了，感觉怎么样？如果需要，我可以帮您看看搭配的产品。"


def brand() -> Brand:
    b = guides(Brand())
    for i, name in enumerate(("王芳", "李娜", "张伟"), 1):
        b.add("consumers", consumer_key=f"wecom:u{i}", name=name)
        b.rel(f"wecom:u{i}", "guide", "start", "2025-01-05 10:00", "g3")

    def order(oid, key, at, *lines):
        b.order(key, at, 200.0, order_id=oid, store_id="S2")
        for category, price in lines:
            b.add("order_items", order_id=oid, sku=f"SKU-{category}", quantity=1,
                  unit_price=price, category=category)

    # u1: the main line is 奶粉 (180 of 200) → 奶粉 texts; no repurchase → adviser task
    order("o1", "wecom:u1", "2025-03-03 14:00", ("奶粉", 180.0), ("奶瓶", 20.0))
    order("o2", "wecom:u2", "2025-03-03 09:00", ("奶粉", 200.0))
    order("o3", "wecom:u2", "2025-03-10 09:00", ("奶粉", 200.0))  # repurchase: no task
    order("o4", "wecom:u3", "2025-03-03 09:00", ("咖啡", 200.0))  # category A = 咖啡
    order("o5", "wecom:u3", "2025-03-20 09:00", ("咖啡", 200.0))  # after the adviser task
    return b


def test_cross_sell(tmp_path, cli):
    home, who = setup(tmp_path, brand(), "cross_sell", "2025-03-01")
    got = run(cli, home, "2025-03-01", "2025-03-22")
    assert got["entered"] == 3  # o3 and o5 come within 30 days: no second entry
    # each wait ends at the next 10:00 after its duration (u2, u3 bought at 09:00, u1 at
    # 14:00); sends of the same instant in enrolment-id order
    assert outbox(home, who) == [
        ("u3", "wecom", "2025-03-06 10:00", "张伟" + GUIDE.format("咖啡")),
        ("u2", "wecom", "2025-03-06 10:00", "李娜" + GUIDE.format("奶粉")),
        ("u1", "wecom", "2025-03-07 10:00", "王芳" + GUIDE.format("奶粉")),
        ("u3", "wecom", "2025-03-10 10:00", "张伟" + RELATED.format("咖啡")),
        ("u2", "wecom", "2025-03-10 10:00", "李娜" + RELATED.format("奶粉")),
        ("u1", "wecom", "2025-03-11 10:00", "王芳" + RELATED.format("奶粉"))]
    assert tasks(home, who) == [
        ("u3", "g3", "adviser", "购后15天未复购：顾问跟进", "2025-03-18 10:00",
         "2025-03-18 10:00", "2025-03-20 10:00"),
        ("u1", "g3", "adviser", "购后15天未复购：顾问跟进", "2025-03-19 10:00",
         "2025-03-19 10:00", "2025-03-21 10:00")]
    ws = Workspace.open(home)
    try:
        with ws.ops.engine.connect() as c:
            scripts = c.execute(select(guide_tasks.c.script).order_by(
                guide_tasks.c.created_at)).scalars().all()
    finally:
        ws.close()
    assert scripts == ["张伟" + SCRIPT.format("咖啡"), "王芳" + SCRIPT.format("奶粉")]
    st = cli.json("journey", "stats", "cross_sell", "--home", home)
    assert st["steps"]["repurchased"] == 3 and st["steps"]["adviser"] == 2
