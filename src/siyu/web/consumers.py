"""The consumer 360° view for the API and the console: :func:`siyu.consumers.profile` plus
tier history and consent, with the guide rule (a guide sees only its own customers) and the
audit of unmasked views."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from siyu.ops.audit import record
from siyu.web.auth import Principal
from siyu.web.errors import ApiError, bilingual

__all__ = ["consumer_view", "guide_refs", "TIER_HISTORY_MONTHS"]

TIER_HISTORY_MONTHS = 6


def guide_refs(ws, guide_id: str) -> set[str]:
    """The touchpoints that make a consumer a guide's customer: the guide itself (field
    ``guide``, field_ref = guide_id) and the touchpoints registered to it."""
    rows = ws.warehouse.raw.execute(
        "SELECT DISTINCT field_ref FROM touchpoints WHERE guide_id = ?", [guide_id]).fetchall()
    return {guide_id} | {r[0] for r in rows if r[0]}


def _is_own(ws, p: Principal, view: dict[str, Any]) -> bool:
    refs = guide_refs(ws, p.guide_id or "")
    return any(r["status"] == "active" and r["field_ref"] in refs
               for r in view["relationships"])


def _history_periods(ws, months: int):
    from datetime import date

    from siyu.models.periods import period_of
    from siyu.web.service import default_period

    last = period_of(date.fromisoformat(default_period(ws) + "-01"), "month", ws.settings.zone)
    periods = [last]
    for _ in range(months - 1):
        periods.insert(0, periods[0].previous())
    return periods


def _tier_history(ws, cid: str, months: int, keys: list[str] | None = None,
                  finder=None) -> list[dict[str, Any]]:
    """The consumer's tier at the end of each of the last ``months`` full months
    (:func:`siyu.consumers.tiers.consumer_tiers`: stored results while fresh, the tier model
    over the consumer's own rows otherwise)."""
    from siyu.consumers.tiers import consumer_tiers
    from siyu.models.tiers import TIER_NAMES

    if keys is None:
        from siyu.identity.lookup import keys_of

        keys = [k["key"] for k in keys_of(ws, cid)]
    periods = _history_periods(ws, months)
    got = consumer_tiers(ws, cid, keys, periods, finder)
    out = []
    for p in periods:
        tier = got.get(str(p), 0)
        zh, en = TIER_NAMES.get(tier, ("—", "—"))
        out.append({"period": str(p), "tier": tier, "name": {"zh": zh, "en": en}})
    return out


def _tags(ws, cid: str) -> list[dict[str, Any]]:
    """The consumer's tags from the last `siyu tag compute` (why: ``GET
    /api/v1/consumers/{key}/tags/{tag}/why``)."""
    from siyu.tags.context import TAG_VALUES

    if not ws.warehouse.has_table(TAG_VALUES):
        return []
    cur = ws.warehouse.raw.execute(
        f"SELECT tag_group, tag, value, kind, source FROM {TAG_VALUES} "
        "WHERE consumer_id = ? ORDER BY tag_group, tag", [cid])
    return [{"group": r[0], "tag": r[1], "value": r[2], "kind": r[3], "source": r[4]}
            for r in cur.fetchall()]


def _journeys(ops, cid: str) -> list[dict[str, Any]]:
    """The consumer's journey enrolments (issue 6), newest first; [] without journeys."""
    try:
        from siyu.ops.tables import journey_enrolments as e
    except ImportError:  # pragma: no cover - older trees
        return []
    from sqlalchemy import select

    with ops.engine.connect() as c:
        rows = c.execute(select(e.c.journey, e.c.version, e.c.status, e.c.step, e.c.arm,
                                e.c.enrolled_at, e.c.exit_reason)
                         .where(e.c.consumer_id == cid)
                         .order_by(e.c.enrolled_at.desc())).all()
    return [{"journey": r.journey, "version": r.version, "status": r.status, "step": r.step,
             "arm": r.arm, "exit_reason": r.exit_reason,
             "enrolled_at": (r.enrolled_at if r.enrolled_at.tzinfo else
                             r.enrolled_at.replace(tzinfo=UTC)).isoformat()}
            for r in rows]


def _consent(ws, keys: list[str], finder) -> list[dict[str, Any]]:
    """The latest consent event per (purpose, channel) (DOMAIN §12)."""
    if not keys:
        return []
    rows = finder.rows("""
        SELECT purpose, coalesce(channel, 'all') AS channel,
               arg_max(granted, occurred_at) AS granted, max(occurred_at) AS at,
               arg_max(source, occurred_at) AS source
        FROM {src} GROUP BY ALL ORDER BY purpose, channel""", "consents", keys)
    zone = ws.settings.zone
    return [{"purpose": r["purpose"], "channel": r["channel"], "granted": bool(r["granted"]),
             "at": r["at"].astimezone(zone).isoformat() if r["at"] else None,
             "source": r["source"]} for r in rows]


def consumer_view(state, p: Principal, key: str, *, unmask: bool = False,
                  history_months: int = TIER_HISTORY_MONTHS) -> dict[str, Any]:
    """The 360° view of the consumer holding ``key`` as ``p`` may see it."""
    from siyu.consumers import profile, resolve
    from siyu.consumers.index import Finder

    if not (p.may("consumers") or p.may("own_consumers")):
        raise ApiError(403, "forbidden", "角色 {r} 无权查看消费者", "role {r} may not look up "
                       "consumers", r=p.role.name)
    if unmask and not p.may("unmask"):
        raise ApiError(403, "forbidden", "角色 {r} 无权查看未脱敏信息",
                       "role {r} may not see unmasked personal data", r=p.role.name)
    with state.warehouse() as ws:
        finder = Finder(ws)  # one index check per table for the whole page
        found, rows = bilingual(resolve, ws, key, finder)
        view = bilingual(profile, ws, key, mask=not unmask, finder=finder,
                         resolved=(found, rows))
        if not p.may("consumers") and not _is_own(ws, p, view):
            raise ApiError(403, "not_your_customer", "该消费者不是您的客户",
                           "this consumer is not one of your customers")
        cid = view["consumer_id"]
        keys = [k["key"] for k in rows]
        view["tier_history"] = _tier_history(ws, cid, history_months, keys, finder)
        view["consent"] = _consent(ws, keys, finder)
        view["tags"] = _tags(ws, cid)
    view["journeys"] = _journeys(state.ws.ops, cid)
    view["masked"] = not unmask
    if unmask:
        record(ws.ops, p.actor, "unmasked_view", cid,
               {"keys": len(keys), "at": datetime.now(UTC).isoformat()})
    return view


def tag_why(state, p: Principal, key: str, tag: str) -> dict[str, Any]:
    """Why the consumer of ``key`` carries ``tag`` (:func:`siyu.tags.service.why`), for
    whoever may see the consumer."""
    from siyu.tags.service import why

    if not p.may("consumers"):
        consumer_view(state, p, key, history_months=1)  # a guide: its own customers only
    with state.warehouse() as ws:
        return bilingual(why, ws, key, tag)
