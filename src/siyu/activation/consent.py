"""Consent by purpose and channel (DOMAIN §12), checked at send time.

Two sources: the warehouse table ``consents`` (imported history; a row counts from its
``occurred_at``) and the ops table ``consent_events`` (changes recorded through siyu —
``siyu consent revoke|grant`` — effective at once for every later send, also of enrolments
already running). The latest event for the purpose on the channel, or on ``all``, decides;
without one, ``service`` is allowed and ``marketing`` is allowed under the opt-out model and
refused under opt-in (``consent_model``).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import select

from siyu.activation.clock import now_utc, utc
from siyu.errors import UsageError
from siyu.i18n import tr
from siyu.ops.tables import consent_events

__all__ = ["CONSENT_CHANNEL", "decide", "record_change", "OpsConsents", "warehouse_consents",
           "status", "PURPOSES", "CHANNELS"]

PURPOSES = ("marketing", "service", "profiling", "analytics")
CHANNELS = ("wecom", "group", "sms", "official_account", "email", "all")
CONSENT_CHANNEL = {"wecom": "wecom", "wecom_group": "group", "wecom_moments": "group",
                   "official_account": "official_account", "miniprogram": "all",
                   "sms": "sms", "email": "email", "file": "*", "console": "*"}
"""Outbox channel → consent channel; ``*`` = any channel's revocation counts (file and
console stand in for every real channel)."""

Event = tuple[datetime, str, str, bool]  # (at, purpose, channel, granted)
OpsEvent = tuple[int, str, str, bool]    # (id, purpose, channel, granted), in id order
CONCRETE = ("wecom", "group", "sms", "official_account", "email")


def _one(wh: list[Event], ops: list[OpsEvent], purpose: str, ch: str, at: datetime,
         model: str) -> bool:
    hit = [e for e in ops if e[1] == purpose and e[2] in (ch, "all")]
    if hit:
        return hit[-1][3]
    past = [e for e in wh if e[1] == purpose and e[2] in (ch, "all") and e[0] <= at]
    if past:
        return max(past, key=lambda e: e[0])[3]
    return purpose != "marketing" or model == "opt_out"


def decide(wh: list[Event], ops: list[OpsEvent], purpose: str, channel: str, at: datetime,
           model: str = "opt_out") -> bool:
    """Whether a ``purpose`` send on outbox ``channel`` at ``at`` is allowed for a consumer
    with imported events ``wh`` and siyu-recorded events ``ops`` (which are newer than any
    imported one and count whatever the send time)."""
    cc = CONSENT_CHANNEL.get(channel, channel)
    chans = CONCRETE if cc == "*" else (cc,)
    return all(_one(wh, ops, purpose, c, at, model) for c in chans)


def warehouse_consents(raw, consumer_ids: list[str]) -> dict[str, list[Event]]:
    """The imported consent events of some consumers (through OneID)."""
    out: dict[str, list[Event]] = defaultdict(list)
    if raw is None or not consumer_ids:
        return out
    has = raw.execute("SELECT count(*) FROM information_schema.tables WHERE table_name IN "
                      "('consents', 'identity_map')").fetchone()[0]
    if has < 2:
        return out
    import pyarrow as pa

    raw.register("_consent_ids", pa.table({"cid": pa.array(consumer_ids, pa.string())}))
    try:
        rows = raw.execute(
            "SELECT m.consumer_id, c.occurred_at, c.purpose, coalesce(c.channel, 'all'), "
            "c.granted FROM consents c JOIN identity_map m ON m.key = c.consumer_key "
            "JOIN _consent_ids x ON x.cid = m.consumer_id").fetchall()
    finally:
        raw.unregister("_consent_ids")
    for cid, at, p, ch, g in rows:
        out[cid].append((utc(at), p, ch, bool(g)))
    return out


class OpsConsents:
    """Consent events recorded through siyu for a batch of consumers, read inside the batch's
    transaction (so a revocation committed before it is always seen)."""

    def __init__(self, conn, consumer_ids: list[str]):
        self.events: dict[str, list[Event]] = defaultdict(list)
        ids = sorted(set(consumer_ids))
        for i in range(0, len(ids), 500):
            for r in conn.execute(select(consent_events.c.consumer_id, consent_events.c.purpose,
                                         consent_events.c.channel, consent_events.c.granted,
                                         consent_events.c.id)
                                  .where(consent_events.c.consumer_id.in_(ids[i:i + 500]))
                                  .order_by(consent_events.c.id)):
                self.events[r[0]].append((r[4], r[1], r[2], bool(r[3])))

    def of(self, consumer_id: str) -> list[OpsEvent]:
        return self.events.get(consumer_id, [])


def record_change(ops, *, consumer_id: str, purpose: str, channel: str, granted: bool,
                  actor: str, source: str = "cli", at: datetime | None = None) -> dict[str, Any]:
    """Record a grant or revocation (and its audit entry) in one transaction."""
    from siyu.ops.audit import record

    if purpose not in PURPOSES:
        raise UsageError(tr("未知用途 {p}：可选 {k}", "unknown purpose {p!r}; known: {k}",
                            p=purpose, k=", ".join(PURPOSES)))
    if channel not in CHANNELS:
        raise UsageError(tr("未知渠道 {c}：可选 {k}", "unknown channel {c!r}; known: {k}",
                            c=channel, k=", ".join(CHANNELS)))
    at = utc(at) or now_utc()
    row = {"consumer_id": consumer_id, "purpose": purpose, "channel": channel,
           "granted": granted, "at": at, "actor": actor, "source": source}
    with ops.engine.begin() as conn:
        conn.execute(consent_events.insert().values(**row))
        record(ops, actor, "consent_change", consumer_id,
               {"purpose": purpose, "channel": channel, "granted": granted, "source": source},
               conn=conn)
    return {**row, "at": at.isoformat()}


def status(ops, raw, consumer_id: str, at: datetime | None = None,
           model: str = "opt_out") -> dict[str, dict[str, bool]]:
    """Whether each purpose may be sent on each outbox channel now (for ``siyu consent
    show``)."""
    at = utc(at) or now_utc()
    wh = warehouse_consents(raw, [consumer_id]).get(consumer_id, [])
    with ops.engine.connect() as conn:
        oc = OpsConsents(conn, [consumer_id])
    out: dict[str, dict[str, bool]] = {}
    for p in ("marketing", "service"):
        out[p] = {}
        for ch in ("wecom", "wecom_group", "official_account", "sms", "email", "file"):
            out[p][ch] = decide(wh, oc.of(consumer_id), p, ch, at, model)
    return out
