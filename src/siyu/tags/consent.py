"""Consent for profiling (DOMAIN §12: purpose ``profiling`` covers personalisation and tags).

A consumer whose latest ``profiling`` event on channel ``all`` before the snapshot is a
revocation gets no computed tag (rule, model, text); manual tags are people's own records
and stay. Events come from the imported ``consents`` table and, newer than any of those,
from the operational store's ``consent_events`` (``siyu consent revoke|grant``) when it
exists — the same precedence as the send-time check of :mod:`siyu.activation.consent`.
Setting ``tag_profiling_consent`` switches the rule off.
"""

from __future__ import annotations

from datetime import UTC

import ibis
from sqlalchemy import inspect, select

__all__ = ["profiling_revoked"]

PURPOSE = "profiling"


def _warehouse(ctx) -> dict[str, tuple]:
    """consumer id → (time, granted) of their latest imported profiling event."""
    if not ctx.has_table("consents"):
        return {}
    c = ctx.src.with_consumer("consents")
    c = c.filter((c.purpose == PURPOSE) & (c.channel.isnull() | (c.channel == "all"))
                 & (c.occurred_at < ibis.literal(ctx.instant)))
    w = ibis.window(group_by=c.consumer_id,
                    order_by=[ibis.desc(c.occurred_at), ibis.desc(c._load_id),
                              ibis.desc(c._line)])
    c = c.mutate(rn=ibis.row_number().over(w))
    c = c.filter(c.rn == 0).select("consumer_id", "occurred_at", "granted")
    return {r["consumer_id"]: (r["occurred_at"], r["granted"])
            for r in c.to_pyarrow().to_pylist()}


def _ops(ctx) -> dict[str, tuple]:
    """consumer id → (time, granted) of their latest profiling event recorded by siyu."""
    from siyu.ops.tables import metadata

    table = metadata.tables.get("consent_events")
    engine = ctx.ws.ops.engine
    if table is None or not inspect(engine).has_table("consent_events"):
        return {}
    q = select(table.c.consumer_id, table.c.granted, table.c.at).where(
        (table.c.purpose == PURPOSE) & (table.c.channel == "all")).order_by(table.c.id)
    out: dict[str, tuple] = {}
    with engine.connect() as conn:
        for cid, granted, at in conn.execute(q):
            out[cid] = (at if at.tzinfo else at.replace(tzinfo=UTC), granted)
    return out


def profiling_revoked(ctx) -> dict[str, object]:
    """Consumer id → the time of the revocation in force at the snapshot (cached per
    computation); empty when setting ``tag_profiling_consent`` is off."""
    if "revoked" in ctx.cache:
        return ctx.cache["revoked"]
    out: dict[str, object] = {}
    if ctx.settings.tag_profiling_consent:
        latest = {**_warehouse(ctx), **_ops(ctx)}  # siyu's own records are newer
        out = {cid: at for cid, (at, granted) in latest.items() if not granted}
    ctx.cache["revoked"] = out
    return out
