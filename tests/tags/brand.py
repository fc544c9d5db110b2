"""The hand-built brand of the tag tests: the audience brand (tiers known per person) plus
content views at the edges of a 30-day window, chat messages and category purchases.

Snapshot: the end of 2025-03-31 (Asia/Shanghai), so a 30-day window is
[2025-03-02 00:00, 2025-04-01 00:00) local time."""

from __future__ import annotations

from datetime import date

import pytest

from siyu.workspace import Workspace
from tests.audience.test_compile import audience_brand

AS_OF = date(2025, 3, 31)

RULE = 'views(last 30d, category = "抗衰老", dwell >= 180) >= 2'
RULE_MEMBERS = {"u3", "u8"}


def _view(b, key: str, at: str, category: str, dwell: int) -> None:
    b.add("interactions", consumer_key=key, field="mini_program", type="view", occurred_at=at,
          content_id="a-1", dwell_seconds=dwell, category=category)


def tag_brand():
    b = audience_brand()
    # u3: two qualifying views, the first exactly at the window's start, the last one minute
    # before its end -> carries the rule tag
    _view(b, "member:u3", "2025-03-02 00:00", "抗衰老", 180)
    _view(b, "member:u3", "2025-03-31 23:59", "抗衰老", 600)
    # u4: one view a minute before the window -> only one counts
    _view(b, "member:u4", "2025-03-01 23:59", "抗衰老", 300)
    _view(b, "member:u4", "2025-03-15 10:00", "抗衰老", 300)
    # u5: dwell 179 s on one view
    _view(b, "member:u5", "2025-03-10 10:00", "抗衰老", 179)
    _view(b, "member:u5", "2025-03-11 10:00", "抗衰老", 200)
    # u6: one view of another category
    _view(b, "member:u6", "2025-03-10 10:00", "抗衰老", 200)
    _view(b, "member:u6", "2025-03-11 10:00", "护肤", 200)
    # u7: one view exactly at the window's end (excluded)
    _view(b, "wecom:u7", "2025-03-20 10:00", "抗衰老", 200)
    _view(b, "wecom:u7", "2025-04-01 00:00", "抗衰老", 200)
    # u8: two qualifying views
    _view(b, "member:u8", "2025-03-05 10:00", "抗衰老", 300)
    _view(b, "member:u8", "2025-03-06 10:00", "抗衰老", 180)
    # chat: u1 wrote 用完了 on 03-10 and 03-20 (audience brand); u2 says it is not used up;
    # u9 asks about price; u13's complaint is older than 30 days
    b.add("interactions", consumer_key="member:u2", field="guide", type="message",
          occurred_at="2025-03-25 10:00", text="还没用完呢")
    b.add("interactions", consumer_key="wecom:u9", field="guide", type="message",
          occurred_at="2025-03-28 10:00", text="这个太贵了，有没有优惠？")
    b.add("interactions", consumer_key="member:u13", field="guide", type="message",
          occurred_at="2025-02-20 10:00", text="收到的面霜是坏的，要退货")
    # category purchases for purchase cycles: u16 bought 护肤 30 days apart (due 03-06);
    # u20 once (cycle = the category median 30 -> due 04-19); u21 bought 零食 once (no cycle)
    for oid, key, at in (("oa", "pos:u16", "2025-01-05 10:00"),
                         ("ob", "pos:u16", "2025-02-04 10:00"),
                         ("oc", "pos:u20", "2025-03-20 10:00"),
                         ("od", "pos:u21", "2025-03-21 10:00")):
        b.order(key, at, 100, order_id=oid)
    for oid, cat in (("oa", "护肤"), ("ob", "护肤"), ("oc", "护肤"), ("od", "零食")):
        b.add("order_items", order_id=oid, sku=f"sku-{cat}", quantity=2, unit_price=50,
              category=cat)
    # consent for profiling (§12): u14 revoked it (no computed tags); u12 revoked, then
    # granted again; u6 revokes only after the snapshot; u5 revoked marketing, not profiling
    for key, at, purpose, granted, channel in (
            ("member:u14", "2025-03-01 10:00", "profiling", "false", "all"),
            ("member:u12", "2025-02-01 10:00", "profiling", "false", "all"),
            ("member:u12", "2025-03-01 10:00", "profiling", "true", "all"),
            ("member:u6", "2025-04-02 10:00", "profiling", "false", "all"),
            ("member:u5", "2025-03-01 10:00", "marketing", "false", "all")):
        b.add("consents", consumer_key=key, purpose=purpose, granted=granted,
              occurred_at=at, channel=channel)
    return b


REVOKED = {"u14"}
"""People who revoked consent for profiling before the snapshot."""


@pytest.fixture(scope="module")
def tws(tmp_path_factory):
    """A workspace with the tag brand loaded (shared by a module's tests: they must not
    change it, except through their own copies)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SIYU_LANG", "en")
        mp.setenv("SIYU_ID_SALT", "test-salt")
        tmp = tmp_path_factory.mktemp("tags")
        w = Workspace.init(tmp / "ws", brand_name="测试品牌")
        tag_brand().load(w, tmp)
        yield w
        w.close()


def people(ws) -> dict[str, str]:
    """consumer id → person (u1…)."""
    idm = ws.warehouse.ibis.table("identity_map").execute()
    return {r.consumer_id: r.key.split(":", 1)[1] for r in idm.itertuples()}


def carriers(ws, tag: str) -> dict[str, str | None]:
    """person → value of everyone carrying ``tag`` in tag_values."""
    who = people(ws)
    t = ws.warehouse.table("tag_values")
    rows = t.filter(t.tag == tag).select("consumer_id", "value").to_pyarrow().to_pylist()
    return {who[r["consumer_id"]]: r["value"] for r in rows}
