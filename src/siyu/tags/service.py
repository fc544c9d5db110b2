"""Tag services the CLI, API and console call: the list of tags by group and why one consumer
carries a tag (:func:`why`)."""

from __future__ import annotations

import difflib
from typing import Any

from siyu.errors import UsageError
from siyu.i18n import tr
from siyu.identity.lookup import find_consumer
from siyu.tags.compute import all_definitions, today
from siyu.tags.context import TAG_CATALOG, TAG_VALUES, TagContext
from siyu.tags.facts import plain
from siyu.tags.kinds import KINDS

__all__ = ["list_tags", "why", "catalog"]


def catalog(ws) -> dict[str, dict[str, Any]]:
    """The last compute's catalogue: tag → its row (empty before the first compute)."""
    if not ws.warehouse.has_table(TAG_CATALOG):
        return {}
    return {r["tag"]: r for r in ws.warehouse.table(TAG_CATALOG).to_pyarrow().to_pylist()}


def list_tags(ws) -> dict[str, Any]:
    """``{"groups": [{"group", "tags": [{tag, kind, definition, consumers, status…}]}],
    "computed_at"}``; consumers are null for a tag never computed."""
    cat = catalog(ws)
    groups: dict[str, list[dict[str, Any]]] = {}
    for d in all_definitions(ws):
        c = cat.get(d.name)
        if c is not None and c["kind"] != d.kind:
            c = None
        groups.setdefault(d.group, []).append({
            "tag": d.name, "kind": d.kind, "definition": KINDS[d.kind]().describe(d),
            "description": d.description,
            "consumers": c["consumers"] if c else None,
            "status": c["status"] if c else "not_computed",
            **({"reason": c["reason"]} if c and c["reason"] else {}),
        })
    stamps = [c["computed_at"] for c in cat.values()]
    return {"groups": [{"group": g, "tags": t} for g, t in groups.items()],
            "computed_at": plain(max(stamps)) if stamps else None,
            "as_of": plain(next(iter(cat.values()))["as_of"]) if cat else None}


def _consumer(ws, key: str) -> str:
    look = find_consumer(ws, key)
    if len(look.consumer_ids) != 1:
        raise UsageError(tr("{k} 对应多个消费者：{ids}", "{k} belongs to several consumers: {ids}",
                            k=key, ids=", ".join(look.consumer_ids)))
    return look.consumer_ids[0]


def why(ws, key: str, tag: str) -> dict[str, Any]:
    """Why the consumer of ``key`` carries ``tag`` (or not): the definition, its version and
    computed time, the consumer's values and the facts that met the rule — at the snapshot
    of the last compute."""
    defs = {d.name: d for d in all_definitions(ws)}
    d = defs.get(tag)
    if d is None:
        close = difflib.get_close_matches(tag, list(defs), n=1)
        hint = tr("（是否想写 {c}？）", " (did you mean {c}?)", c=close[0]) if close else ""
        raise UsageError(tr("未知标签 {t}{h}", "unknown tag {t!r}{h}", t=tag, h=hint))
    cid = _consumer(ws, key)
    cat = catalog(ws).get(tag)
    values: list[dict[str, Any]] = []
    if ws.warehouse.has_table(TAG_VALUES):
        t = ws.warehouse.table(TAG_VALUES)
        values = t.filter((t.consumer_id == cid) & (t.tag == tag)).select(
            "value", "source", "rule_version", "computed_at").to_pyarrow().to_pylist()
    as_of = cat["as_of"] if cat else today(ws)
    ctx = TagContext(ws, as_of)
    kind = KINDS[d.kind]()
    out: dict[str, Any] = {
        "consumer_id": cid, "tag": tag, "group": d.group, "kind": d.kind,
        "has_tag": bool(values), "values": [v["value"] for v in values],
        "definition": kind.describe(d), "description": d.description,
        "source": values[0]["source"] if values else kind.source(d),
        "rule_version": cat["rule_version"] if cat else None,
        "computed_at": plain(cat["computed_at"], ws.settings.zone) if cat else None,
        "as_of": plain(as_of), "status": cat["status"] if cat else "not_computed",
    }
    if cat and cat["reason"]:
        out["reason"] = cat["reason"]
    if cat and d.kind != "manual":
        out["changed_since_compute"] = kind.version(ctx, d) != cat["rule_version"]
    if d.kind != "manual":
        from siyu.tags.consent import profiling_revoked

        at = profiling_revoked(ctx).get(cid)
        if at is not None:
            out["profiling_revoked_at"] = plain(at, ws.settings.zone)
    out["facts"] = kind.why(ctx, d, cid)
    return out
