"""§13 template 9, a coupon (attrs.expires_at) or loyalty points expiring in 3 days → a
reminder at 10:00, worded without pressure (DOMAIN §12); a coupon used before the reminder
stops it; points already redeemed (from the grants lapsing first) remind nobody."""

from __future__ import annotations

from tests.activation.template_support import Brand, guides, outbox, run, setup, tasks

TEXT = "，您的专属福利即将过期，是否查看？"


def brand() -> Brand:
    b = guides(Brand())
    for i, name in enumerate(("王芳", "李娜", "张伟", "刘洋"), 1):
        b.add("consumers", consumer_key=f"wecom:u{i}", name=name)
        b.rel(f"wecom:u{i}", "membership", "start", "2025-01-05 10:00")

    def coupon(n, key, action, at, expires=""):
        b.add("coupons", event_id=f"e{n}", coupon_id=f"C{key[-1]}", consumer_key=key,
              action=action, occurred_at=at, template_id="T20", expires_at=expires)

    coupon(1, "wecom:u1", "issued", "2025-02-20 10:00", "2025-03-08 23:59")  # → 03-05 10:00
    coupon(2, "wecom:u2", "issued", "2025-02-20 10:00", "2025-03-08 23:59")
    coupon(3, "wecom:u2", "redeemed", "2025-03-04 12:00")                   # used: never
    coupon(4, "wecom:u3", "issued", "2025-02-20 10:00", "2025-03-09 12:00")  # enters 03-06
    coupon(5, "wecom:u3", "redeemed", "2025-03-06 08:00")                   # … used at 08:00
    coupon(6, "wecom:u4", "issued", "2025-02-21 10:00", "2025-03-10 09:00")
    coupon(7, "wecom:u4", "claimed", "2025-02-22 10:00", "2025-03-10 09:00")  # → 03-07 10:00
    return b


def test_expiry_reminder(tmp_path, cli):
    home, who = setup(tmp_path, brand(), "expiry_reminder", "2025-03-01")
    got = run(cli, home, "2025-03-01", "2025-03-12")
    assert got["entered"] == 3  # u1, u3, u4 (u4's two rows are one coupon)
    assert outbox(home, who) == [("u1", "wecom", "2025-03-05 10:00", "王芳" + TEXT),
                                 ("u4", "wecom", "2025-03-07 10:00", "刘洋" + TEXT)]
    assert tasks(home, who) == []
    st = cli.json("journey", "stats", "expiry_reminder", "--home", home)
    assert (st["entered"], st["done"], st["exited"], st["sends"]) == (3, 2, 1, 2)


def points_brand() -> Brand:
    b = guides(Brand())
    for i, name in enumerate(("王芳", "李娜", "张伟", "刘洋", "陈静"), 1):
        b.add("consumers", consumer_key=f"wecom:u{i}", name=name)
        b.rel(f"wecom:u{i}", "membership", "start", "2025-01-05 10:00")
    # u3 also holds a coupon lapsing on the 8th: one reminder for both
    b.add("coupons", event_id="e1", coupon_id="C3", consumer_key="wecom:u3", action="issued",
          occurred_at="2025-02-20 10:00", template_id="T20", expires_at="2025-03-08 23:59")
    return b


def test_expiry_reminder_for_points(tmp_path, cli):
    home, who = setup(tmp_path, points_brand(), "expiry_reminder", "2025-03-01")

    def points(*args):
        return cli.json("points", *args, "--home", home)

    # u1: 100 points valid through 8 March → reminded on the 5th at 10:00
    points("grant", "wecom:u1", "100", "--expires", "2025-03-08", "--at", "2025-02-01")
    # u2: valid through the 8th but all redeemed → nothing lapses, no reminder
    points("grant", "wecom:u2", "80", "--expires", "2025-03-08", "--at", "2025-02-01")
    points("redeem", "wecom:u2", "80", "--at", "2025-02-10")
    # u3: points and a coupon lapsing the same day → reminded once
    points("grant", "wecom:u3", "50", "--expires", "2025-03-08", "--at", "2025-02-01")
    # u4: 100 lapsing on the 8th and 50 at the year's end; 120 redeemed take the 100 first
    points("grant", "wecom:u4", "100", "--expires", "2025-03-08", "--at", "2025-02-01")
    points("grant", "wecom:u4", "50", "--expires", "2025-12-31", "--at", "2025-02-02")
    assert points("redeem", "wecom:u4", "120", "--at", "2025-02-10")["balance"] == 30
    # u5: 30 of 100 redeemed, 70 still lapse on the 9th → reminded on the 6th
    points("grant", "wecom:u5", "100", "--expires", "2025-03-09", "--at", "2025-02-01")
    points("redeem", "wecom:u5", "30", "--at", "2025-02-10")
    got = run(cli, home, "2025-03-01", "2025-03-12")
    assert got["entered"] == 3  # u1, u3 (once), u5
    # (sends of the same instant in enrolment-id order)
    assert outbox(home, who) == [("u3", "wecom", "2025-03-05 10:00", "张伟" + TEXT),
                                 ("u1", "wecom", "2025-03-05 10:00", "王芳" + TEXT),
                                 ("u5", "wecom", "2025-03-06 10:00", "陈静" + TEXT)]
    shown = points("show", "wecom:u5", "--at", "2025-03-06")
    assert (shown["balance"], shown["expiring_30_days"]) == (70, 70)
    assert [(x["points"], x["left"]) for x in shown["lots"]] == [(100, 70)]
    assert points("show", "wecom:u5", "--at", "2025-03-10")["balance"] == 0  # lapsed
