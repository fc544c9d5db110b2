"""§13 template 6, buying for others: "同事问这是什么牌子" → a 1v1 invitation task for the
guide (the guide's daily limit of friend invitations holds); a share within 7 days (the
referral) → 150 loyalty points as thanks, in the points ledger."""

from __future__ import annotations

from tests.activation.template_support import (
    Brand,
    grants,
    guides,
    outbox,
    points,
    run,
    setup,
    tasks,
)

TITLE = "帮亲友购买：邀请添加朋友"


def brand() -> Brand:
    b = guides(Brand())
    for i, name in enumerate(("王芳", "李娜", "张伟"), 1):
        b.add("consumers", consumer_key=f"wecom:u{i}", name=name)
        b.rel(f"wecom:u{i}", "guide", "start", "2025-01-05 10:00", "g1")

    def says(n, key, at, text):
        b.add("interactions", event_id=f"m{n}", consumer_key=key, field="guide",
              type="message", occurred_at=at, text=text)

    says(1, "wecom:u1", "2025-03-03 15:00", "同事问这是什么牌子")
    b.add("shares", share_id="s1", consumer_key="wecom:u1", occurred_at="2025-03-05 12:00",
          content_type="product", field="guide")
    says(2, "wecom:u2", "2025-03-03 16:00", "我朋友也想要一个")  # g1's second invitation today
    says(3, "wecom:u3", "2025-03-03 17:00", "这个怎么用")          # no scenario
    return b


def test_buying_for_others(tmp_path, cli, monkeypatch):
    monkeypatch.setenv("SIYU_GUIDE_DAILY_INVITES", "1")
    home, who = setup(tmp_path, brand(), "buying_for_others", "2025-03-03")
    got = run(cli, home, "2025-03-03", "2025-03-12")
    assert got["entered"] == 2
    assert tasks(home, who) == [
        ("u1", "g1", "invite", TITLE, "2025-03-03 15:00", "2025-03-03 15:00",
         "2025-03-04 15:00"),
        ("u2", "g1", "invite", TITLE, "2025-03-03 16:00", "2025-03-04 00:00",
         "2025-03-05 16:00")]
    assert grants(home, who) == []  # no coupon: points instead
    assert points(home, who) == [
        ("u1", "grant", 150, "2025-03-10 15:00", "2026-03-10 15:00", "推荐亲友感谢",
         "journey:buying_for_others/gift")]
    assert outbox(home, who) == [
        ("u1", "wecom", "2025-03-10 15:00",
         "王芳，谢谢您把我们推荐给朋友！已为您送上 150 积分，一年内有效，是否查看？")]
    shown = cli.json("points", "show", "wecom:u1", "--at", "2025-03-11", "--home", home)
    assert (shown["balance"], shown["expiring_30_days"]) == (150, 0)
