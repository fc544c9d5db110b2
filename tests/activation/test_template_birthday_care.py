"""§13 template 8, birthday care: 3 days before → a care task for the consumer's guide; on the
day at 10:00 → greeting + coupon."""

from __future__ import annotations

from tests.activation.template_support import Brand, grants, guides, outbox, run, setup, tasks


def brand() -> Brand:
    b = guides(Brand())
    b.add("consumers", consumer_key="wecom:u1", name="王芳", birthday="1990-03-06")
    b.add("consumers", consumer_key="wecom:u2", name="李娜", birthday="1985-03-10")
    b.add("consumers", consumer_key="wecom:u3", name="张伟")  # no birthday: never enters
    b.add("consumers", consumer_key="wecom:u4", name="刘洋", birthday="1992-04-01")  # later
    b.rel("wecom:u1", "guide", "start", "2025-01-05 10:00", "g1")   # g1's friend
    b.rel("wecom:u2", "membership", "start", "2025-01-05 10:00")
    b.order("wecom:u2", "2025-02-01 12:00", 99.0, store_id="S2")    # store S2 → g3
    b.rel("wecom:u3", "guide", "start", "2025-01-05 10:00", "g1")
    b.rel("wecom:u4", "guide", "start", "2025-01-05 10:00", "g1")
    return b


def test_birthday_care(tmp_path, cli):
    home, who = setup(tmp_path, brand(), "birthday_care", "2025-03-01")
    got = run(cli, home, "2025-03-01", "2025-03-12")
    assert got["entered"] == 2
    assert tasks(home, who) == [
        ("u1", "g1", "care", "会员即将过生日：去祝福", "2025-03-03 00:00", "2025-03-03 00:00",
         "2025-03-06 00:00"),
        ("u2", "g3", "care", "会员即将过生日：去祝福", "2025-03-07 00:00", "2025-03-07 00:00",
         "2025-03-10 00:00")]
    assert outbox(home, who) == [
        ("u1", "wecom", "2025-03-06 10:00", "王芳，生日快乐！小林咖啡送您一张 30 元生日券，7 天内有效，是否查看？"),
        ("u2", "wecom", "2025-03-10 10:00", "李娜，生日快乐！小林咖啡送您一张 30 元生日券，7 天内有效，是否查看？")]
    assert grants(home, who) == [("u1", "BIRTHDAY-30", "2025-03-06 10:00"),
                                 ("u2", "BIRTHDAY-30", "2025-03-10 10:00")]


def test_the_run_refreshes_guide_assignments_itself(tmp_path, cli):
    """Without anyone running `siyu guide sync`, `siyu run` brings the assignment snapshot up
    to date after the import, so the care tasks reach the guides who hold the relationships."""
    from siyu.activation import templates
    from siyu.activation.store import deploy
    from siyu.workspace import Workspace

    ws = Workspace.init(tmp_path / "ws", brand_name="小林咖啡")
    try:
        brand().load(ws, tmp_path)
        deploy(ws.ops, templates.path("birthday_care").read_text(encoding="utf-8"),
               actor="test", source="birthday_care")
        who = {cid: key.split(":", 1)[1] for cid, key in ws.warehouse.raw.execute(
            "SELECT consumer_id, key FROM identity_map").fetchall()}
    finally:
        ws.close()
    home = tmp_path / "ws"
    run(cli, home, "2025-03-01", "2025-03-12")
    assert [(c, g) for c, g, *_ in tasks(home, who)] == [("u1", "g1"), ("u2", "g3")]


def test_simulated_delivery_happens_at_the_due_time(tmp_path, cli):
    """With delivery on, each message is sent at its due time (10:00 brand time), not at the
    end of the day-long tick (midnight, inside quiet hours)."""
    from sqlalchemy import select

    from siyu.activation import templates
    from siyu.activation.store import deploy
    from siyu.ops.tables import outbox
    from siyu.workspace import Workspace
    from tests.activation.template_support import shown

    ws = Workspace.init(tmp_path / "ws", brand_name="小林咖啡")
    try:
        brand().load(ws, tmp_path)
        text = templates.path("birthday_care").read_text(encoding="utf-8")
        deploy(ws.ops, text.replace("channel: wecom", "channel: file"), actor="test")
        who = {cid: key.split(":", 1)[1] for cid, key in ws.warehouse.raw.execute(
            "SELECT consumer_id, key FROM identity_map").fetchall()}
    finally:
        ws.close()
    home = tmp_path / "ws"
    got = cli.json("run", "--from", "2025-03-01", "--until", "2025-03-12", "--home", home)
    assert got["delivered"] == 2
    ws = Workspace.open(home)
    try:
        with ws.ops.engine.connect() as c:
            rows = c.execute(select(outbox.c.consumer_id, outbox.c.status, outbox.c.sent_at)
                             .order_by(outbox.c.id)).all()
    finally:
        ws.close()
    assert [(who[r.consumer_id], r.status, shown(r.sent_at)) for r in rows] == [
        ("u1", "sent", "2025-03-06 10:00"), ("u2", "sent", "2025-03-10 10:00")]
