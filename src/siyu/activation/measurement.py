"""Journey measurement: who entered, what ran, what was sent or suppressed, and the goal
conversion of every split arm against the holdout (difference with a 95 % confidence
interval, normal approximation of two independent proportions)."""

from __future__ import annotations

import bisect
import math
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from siyu.activation.clock import utc
from siyu.activation.steps import HOLDOUT
from siyu.activation.store import definition, show
from siyu.ops.tables import journey_enrolments as E
from siyu.ops.tables import journey_log as L
from siyu.ops.tables import outbox

__all__ = ["stats", "diff_ci"]

Z95 = 1.959963984540054


def diff_ci(conv_a: int, n_a: int, conv_b: int, n_b: int) -> dict[str, float | None]:
    """Difference of rates a − b with its 95 % confidence interval (None when a group is
    empty)."""
    if not n_a or not n_b:
        return {"diff": None, "ci_low": None, "ci_high": None}
    pa, pb = conv_a / n_a, conv_b / n_b
    se = math.sqrt(pa * (1 - pa) / n_a + pb * (1 - pb) / n_b)
    d = pa - pb
    return {"diff": round(d, 6), "ci_low": round(d - Z95 * se, 6),
            "ci_high": round(d + Z95 * se, 6)}


def stats(ws, name: str, env=None) -> dict[str, Any]:
    info = show(ws.ops, name)
    with ws.ops.engine.connect() as conn:
        status = dict(conn.execute(select(E.c.status, func.count()).where(E.c.journey == name)
                                   .group_by(E.c.status)).all())
        steps = dict(conn.execute(select(L.c.step, func.count()).where(
            L.c.journey == name, L.c.kind == "step").group_by(L.c.step)).all())
        kinds = dict(conn.execute(select(L.c.kind, func.count()).where(L.c.journey == name)
                                  .group_by(L.c.kind)).all())
        supp = dict(conn.execute(select(L.c.reason, func.count()).where(
            L.c.journey == name, L.c.kind == "suppressed").group_by(L.c.reason)).all())
        sends = conn.execute(select(func.count()).select_from(outbox).where(
            outbox.c.source.like(f"journey:{name}/%"),
            outbox.c.channel != "webhook")).scalar()
        j = definition(conn, name, info["version"])
        rows = conn.execute(select(E.c.consumer_id, E.c.enrolled_at, E.c.arm)
                            .where(E.c.journey == name)).all()
    out: dict[str, Any] = {
        "name": name, "version": info["version"], "status": info["status"],
        "entered": sum(status.values()), "active": status.get("active", 0),
        "done": status.get("done", 0), "exited": status.get("exited", 0),
        "failed": status.get("failed", 0),
        "steps": {s.id: steps.get(s.id, 0) for s in j.steps},
        "sends": sends, "deferred": kinds.get("deferred", 0),
        "suppressions": dict(sorted(supp.items())),
        "coupons": kinds.get("coupon", 0), "tasks": kinds.get("task", 0),
        "goal": None}
    if j.goal:
        out["goal"] = _goal(ws, j.goal, rows, env)
    return out


def _goal(ws, goal: dict, rows, env) -> dict[str, Any]:
    from siyu.activation.engine import Env
    from siyu.activation.events import event_rows

    days = timedelta(days=goal["within_days"])
    own = env is None
    env = env or Env(ws)
    try:
        raw = env.raw()
        times: dict[str, list] = {}
        if rows and raw is not None:
            ids = sorted({r[0] for r in rows})
            last = max(utc(r[1]) for r in rows) + days
            for cid, at, _ in event_rows(raw, goal["event"], goal.get("where") or {},
                                         since=None, until=last, consumer_ids=ids):
                times.setdefault(cid, []).append(at)
    finally:
        if own:
            env.close()
    groups: dict[str, list[int]] = {}
    for cid, at, arm in rows:
        at = utc(at)
        ts = times.get(cid, [])
        i = bisect.bisect_right(ts, at)
        hit = i < len(ts) and ts[i] <= at + days
        g = groups.setdefault(arm or "all", [0, 0])
        g[0] += 1
        g[1] += int(hit)
    arms = {k: {"enrolled": n, "converted": c, "rate": round(c / n, 6) if n else None}
            for k, (n, c) in sorted(groups.items())}
    res: dict[str, Any] = {"event": goal["event"], "within_days": goal["within_days"],
                           "arms": arms}
    if HOLDOUT in arms:
        h = arms[HOLDOUT]
        res["vs_holdout"] = {k: diff_ci(v["converted"], v["enrolled"], h["converted"],
                                        h["enrolled"])
                             for k, v in arms.items() if k != HOLDOUT}
    return res
