"""A send guard: consent revoked through siyu after a message was queued stops it at send time
(DOMAIN §12: "a revocation takes effect at once and blocks every later send"). The journeys
engine checks consent when it queues a message; this closes the gap between queueing and
delivery. Only revocations recorded in the operational store (``consent_events``) are checked
here — imported consent history was already applied when the message was queued."""

from __future__ import annotations

from datetime import UTC, datetime

from siyu.channels.base import Message, send_guards

__all__ = ["revoked_since_queued"]


def revoked_since_queued(ws, msgs: list[Message]) -> dict[int, str]:
    try:
        from siyu.activation.consent import OpsConsents, decide
    except ImportError:  # pragma: no cover - the journeys package is part of siyu
        return {}
    todo = [m for m in msgs if m.consumer_id and m.purpose]
    if not todo:
        return {}
    with ws.ops.engine.connect() as conn:
        oc = OpsConsents(conn, [m.consumer_id for m in todo])
    now = datetime.now(UTC)
    out = {}
    for m in todo:
        ev = oc.of(m.consumer_id)
        # opt_out with no imported events: False only when a recorded revocation applies
        if ev and not decide([], ev, m.purpose, m.channel, now, "opt_out"):
            out[m.id] = f"consent revoked ({m.purpose})"
    return out


send_guards.add(revoked_since_queued)
