"""Journeys on the demo brand (``siyu demo``, step ④): a few shipped templates
(:mod:`siyu.activation.templates`) deployed with every send switched to the ``file`` channel
(the demo has no WeCom or SMS account: messages land in ``<workspace>/outbox/*.jsonl`` and in
``siyu outbox list``), then the simulated clock run over the last days of the data."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select

__all__ = ["DEMO_TEMPLATES", "run_demo_journeys"]

DEMO_TEMPLATES = ("welcome_guide_friend", "birthday_care", "buying_for_others")
"""Templates that fit the generated brand (guide friends, birthdays, chat about buying for others)."""

_CHANNEL = re.compile(r"(\bchannel:\s*)[a-z_]+")


def as_file_channel(yaml_text: str) -> str:
    """The template with every ``channel:`` of its sends set to ``file``."""
    return _CHANNEL.sub(r"\1file", yaml_text)


def run_demo_journeys(ws, last_day: date, *, days: int = 14,
                      progress: Callable[[int, int], None] | None = None) -> dict:
    """Deploy :data:`DEMO_TEMPLATES` and run the simulated clock over the ``days`` days ending
    with ``last_day`` (brand-local), delivering to the file channel; what happened."""
    from siyu.activation.runner import run_until
    from siyu.activation.store import deploy
    from siyu.activation.templates import path
    from siyu.ops.tables import guide_tasks, journey_enrolments, journey_log, outbox

    for name in DEMO_TEMPLATES:
        deploy(ws.ops, as_file_channel(path(name).read_text(encoding="utf-8")),
               actor="demo", source=f"{name}.yaml")
    zone = ws.settings.zone
    end = datetime.combine(last_day + timedelta(days=1), time(0), tzinfo=zone)
    run = run_until(ws, end, start=end - timedelta(days=days), progress=progress)
    with ws.ops.engine.connect() as c:
        entered = dict(c.execute(select(journey_enrolments.c.journey, func.count())
                                 .group_by(journey_enrolments.c.journey)).all())
        sent = dict(c.execute(select(outbox.c.status, func.count())
                              .group_by(outbox.c.status)).all())
        supp = dict(c.execute(select(journey_log.c.reason, func.count())
                              .where(journey_log.c.kind == "suppressed")
                              .group_by(journey_log.c.reason)).all())
        tasks = c.execute(select(func.count()).select_from(guide_tasks)).scalar()
    return {"journeys": list(DEMO_TEMPLATES),
            "from": (end - timedelta(days=days)).date().isoformat(),
            "until": last_day.isoformat(),
            "enrolled": {n: entered.get(n, 0) for n in DEMO_TEMPLATES},
            "messages": sum(sent.values()), "delivered": sent.get("sent", 0),
            "suppressed": dict(sorted(supp.items())), "tasks": tasks,
            "passes": run["passes"]}
