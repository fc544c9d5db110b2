"""Helpers of the journey-engine tests (test_journey_* / test_engine_* / test_consent_* /
test_guardrail_*): brand-local times, reading the outbox and the step log."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from siyu.activation.clock import utc
from siyu.ops.tables import journey_log, outbox

SH = ZoneInfo("Asia/Shanghai")


def local(text: str) -> datetime:
    """A brand-local wall-clock time as a UTC instant."""
    return datetime.fromisoformat(text).replace(tzinfo=SH).astimezone(UTC)


def shown(at: datetime) -> str:
    """A UTC instant as brand-local ``YYYY-MM-DD HH:MM``."""
    return utc(at).astimezone(SH).strftime("%Y-%m-%d %H:%M")


def sends(ws) -> list[dict]:
    """Outbox rows (consumer, channel, text, brand-local send time), in send order."""
    with ws.ops.engine.connect() as c:
        rows = c.execute(select(outbox).order_by(outbox.c.next_attempt_at, outbox.c.id)
                         ).mappings().all()
    return [{"consumer_id": r["consumer_id"], "channel": r["channel"],
             "text": (r["payload"] or {}).get("text"), "at": shown(r["next_attempt_at"]),
             "key": r["idempotency_key"], "step": (r["payload"] or {}).get("step"),
             "recipient": r["recipient"], "purpose": r["purpose"]} for r in rows]


def log(ws, kind: str | None = None) -> list[dict]:
    q = select(journey_log).order_by(journey_log.c.id)
    if kind:
        q = q.where(journey_log.c.kind == kind)
    with ws.ops.engine.connect() as c:
        return [dict(r) for r in c.execute(q).mappings()]


def journey(name: str, trigger: str, steps: str | None = None) -> str:
    """A journey file with one trigger and (by default) one file-channel send."""
    steps = steps or '  - send: {channel: file, template: "{journey}"}\n'
    return f"name: {name}\ntitle: {name}\ntrigger: {trigger}\nsteps:\n{steps}"
