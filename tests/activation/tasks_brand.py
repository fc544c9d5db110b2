"""A small hand-built brand for the guide-task tests: two stores, four guides (one has left),
consumers held by guides, by a store only, and by nobody."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from tests.models.builder import Brand

SH = ZoneInfo("Asia/Shanghai")


def local(text: str) -> datetime:
    """A brand-local wall-clock time as a UTC instant."""
    return datetime.fromisoformat(text).replace(tzinfo=SH).astimezone(UTC)


def brand() -> Brand:
    b = Brand()
    for s in ("S1", "S2"):
        b.add("stores", store_id=s, name=f"门店{s}")
    b.add("guides", guide_id="g1", name="导购一", store_id="S1", status="active")
    b.add("guides", guide_id="g2", name="导购二", store_id="S1", status="active")
    b.add("guides", guide_id="g3", name="导购三", store_id="S2", status="active")
    b.add("guides", guide_id="gx", name="离职导购", store_id="S2", status="left",
          left_at="2025-02-01 00:00")
    # phone:13800000001 — friend of g1; phone:13800000002 — friend of g1, then of g2 (latest)
    b.rel("phone:13800000001", "guide", "start", "2025-01-05 10:00", "g1")
    b.order("phone:13800000001", "2025-01-15 12:00", 59.0, store_id="S1")  # held twice over
    b.rel("phone:13800000002", "guide", "start", "2025-01-06 10:00", "g1")
    b.rel("phone:13800000002", "guide", "start", "2025-01-20 10:00", "g2")
    # phone:13800000003 — friend of gx, who left; store S2 through gx
    b.rel("phone:13800000003", "guide", "start", "2025-01-07 10:00", "gx")
    # phone:13800000004 — was g3's friend but deleted them; bought in store S2
    b.rel("phone:13800000004", "guide", "start", "2025-01-08 10:00", "g3")
    b.rel("phone:13800000004", "guide", "end", "2025-01-25 10:00", "g3")
    b.order("phone:13800000004", "2025-01-10 12:00", 99.0, store_id="S2")
    # phone:13800000005 — only a member; no guide, no store
    b.rel("phone:13800000005", "membership", "start", "2025-01-09 10:00")
    for i, name in enumerate(("王芳", "李娜", "张伟", "刘洋", "陈静"), 1):
        b.add("consumers", consumer_key=f"phone:1380000000{i}", name=name)
    return b


def consumer_ids(ws) -> dict[str, str]:
    """consumer key → OneID consumer id."""
    rows = ws.warehouse.raw.execute("SELECT key, consumer_id FROM identity_map").fetchall()
    return dict(rows)
