"""§13 template 10, 15 days after a purchase → an invitation task for a guide, unless the
consumer is already a guide's friend; the guide's daily limit of friend invitations holds."""

from __future__ import annotations

from tests.activation.template_support import Brand, guides, outbox, run, setup, tasks


def brand() -> Brand:
    b = guides(Brand())
    for i, name in enumerate(("王芳", "李娜", "张伟", "刘洋"), 1):
        b.add("consumers", consumer_key=f"wecom:u{i}", name=name)
    b.order("wecom:u1", "2025-03-01 15:00", 59.0, store_id="S1")   # → g1 on 03-17
    b.rel("wecom:u2", "guide", "start", "2025-01-05 10:00", "g3")   # already g3's friend
    b.order("wecom:u2", "2025-03-02 11:00", 88.0, store_id="S2")
    b.order("wecom:u3", "2025-03-01 16:00", 30.0, status="refunded", store_id="S1")  # never
    b.order("wecom:u4", "2025-03-01 18:00", 120.0, store_id="S1")  # g1 again: over the limit
    b.order("wecom:u4", "2025-03-05 18:00", 45.0, store_id="S1")   # enrolled already
    return b


def test_post_purchase_invite(tmp_path, cli, monkeypatch):
    monkeypatch.setenv("SIYU_GUIDE_DAILY_INVITES", "1")
    home, who = setup(tmp_path, brand(), "post_purchase_invite", "2025-03-20")
    got = run(cli, home, "2025-03-01", "2025-03-20")
    assert got["entered"] == 3  # u1, u2, u4 (once)
    assert outbox(home, who) == []
    # S1's only active guide is g1 (g2 left): both invitations of 03-17 are g1's and the one
    # the engine's batch reaches second (u1's) waits a day, its due time a day later too
    assert sorted(tasks(home, who)) == [
        ("u1", "g1", "invite", "购买15天会员邀约", "2025-03-17 10:00", "2025-03-18 00:00",
         "2025-03-21 10:00"),
        ("u4", "g1", "invite", "购买15天会员邀约", "2025-03-17 10:00", "2025-03-17 10:00",
         "2025-03-20 10:00")]
    st = cli.json("journey", "stats", "post_purchase_invite", "--home", home)
    assert (st["entered"], st["done"], st["steps"]["friend"], st["steps"]["invite"]) == (
        3, 3, 3, 2)
