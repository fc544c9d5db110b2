"""Helpers of the template tests (test_template_*): a workspace with a hand-built brand and
one shipped template deployed, the simulated run, and who got what, when."""

from __future__ import annotations

from sqlalchemy import select

from siyu.activation import templates
from siyu.activation.assignment import refresh
from siyu.activation.store import deploy
from siyu.ops.tables import coupon_grants, guide_tasks, points_ledger
from siyu.workspace import Workspace
from tests.activation.journey_support import local, log, sends, shown
from tests.models.builder import Brand

__all__ = ["setup", "run", "outbox", "tasks", "grants", "points", "log", "local", "shown",
           "Brand", "guides"]


def guides(b: Brand) -> Brand:
    """Store S1 with guides g1 and g2 (g2 has left), store S2 with g3."""
    b.add("stores", store_id="S1", name="一店")
    b.add("stores", store_id="S2", name="二店")
    b.add("guides", guide_id="g1", name="导购一", store_id="S1", status="active")
    b.add("guides", guide_id="g2", name="导购二", store_id="S1", status="left")
    b.add("guides", guide_id="g3", name="导购三", store_id="S2", status="active")
    return b


def setup(tmp_path, b: Brand, template: str, at: str):
    """A workspace holding brand ``b``, assignment refreshed at brand-local ``at``, and the
    shipped ``template`` deployed; returns (home, {consumer_id: key value})."""
    ws = Workspace.init(tmp_path / "ws", brand_name="小林咖啡")
    try:
        b.load(ws, tmp_path)
        refresh(ws, local(at))
        got = deploy(ws.ops, templates.path(template).read_text(encoding="utf-8"),
                     actor="test", source=template)
        assert (got["name"], got["version"]) == (template, 1)
        who = {cid: key.split(":", 1)[1] for cid, key in ws.warehouse.raw.execute(
            "SELECT consumer_id, key FROM identity_map").fetchall()}
    finally:
        ws.close()
    return tmp_path / "ws", who


def run(cli, home, start: str, until: str) -> dict:
    return cli.json("run", "--from", start, "--until", until, "--no-deliver", "--home", home)


def outbox(home, who) -> list[tuple[str, str, str, str]]:
    """(consumer, channel, brand-local time, text) of every outbox row, in send order."""
    ws = Workspace.open(home)
    try:
        return [(who[s["consumer_id"]], s["channel"], s["at"], s["text"]) for s in sends(ws)]
    finally:
        ws.close()


def tasks(home, who) -> list[tuple]:
    """(consumer, guide, kind, title, created, available, due) of every guide task, brand-local
    times, in creation order."""
    ws = Workspace.open(home)
    try:
        with ws.ops.engine.connect() as c:
            rows = c.execute(select(guide_tasks).order_by(guide_tasks.c.created_at,
                                                          guide_tasks.c.task_id)).all()
    finally:
        ws.close()
    return [(who[r.consumer_id], r.guide_id, r.kind, r.title, shown(r.created_at),
             shown(r.available_at), shown(r.due_at)) for r in rows]


def grants(home, who) -> list[tuple[str, str, str]]:
    """(consumer, coupon template, brand-local issue time) of every coupon grant."""
    ws = Workspace.open(home)
    try:
        with ws.ops.engine.connect() as c:
            rows = c.execute(select(coupon_grants).order_by(coupon_grants.c.issued_at,
                                                            coupon_grants.c.consumer_id)).all()
    finally:
        ws.close()
    return [(who[r.consumer_id], r.template_id, shown(r.issued_at)) for r in rows]


def points(home, who) -> list[tuple]:
    """(consumer, kind, points, brand-local time, brand-local expiry, reason, source) of every
    row of the points ledger, in time order."""
    ws = Workspace.open(home)
    try:
        with ws.ops.engine.connect() as c:
            rows = c.execute(select(points_ledger).order_by(points_ledger.c.at,
                                                            points_ledger.c.id)).all()
    finally:
        ws.close()
    return [(who[r.consumer_id], r.kind, r.points, shown(r.at),
             shown(r.expires_at) if r.expires_at else None, r.reason, r.source) for r in rows]
