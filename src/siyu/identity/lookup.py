"""Finding a consumer from what a person types: a key (any spelling :func:`normalize_key`
accepts) or a consumer id, current or old (followed through ``identity_id_changes``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import ibis

from siyu.errors import SiyuError, UsageError
from siyu.i18n import tr
from siyu.identity import tables as T
from siyu.identity.keys import is_consumer_id, mask_key, normalize_key

__all__ = ["Lookup", "NotResolved", "UnknownKey", "find_consumer", "keys_of", "merged_into",
           "list_conflicts"]


class NotResolved(SiyuError):
    """Identities were never resolved, or not since the key was imported."""


class UnknownKey(SiyuError):
    """Neither the key nor the consumer id is known."""


@dataclass
class Lookup:
    """The current consumer id(s) for what was asked."""

    requested: str
    consumer_ids: list[str]
    via: str
    """``key``, ``consumer_id`` or ``history`` (an old id followed to the current one)"""
    key: str | None = None
    """the normalised key when a key was asked"""
    history: list[str] = field(default_factory=list)
    """old ids passed through, oldest first"""


def _not_resolved() -> NotResolved:
    return NotResolved(tr("尚未进行身份合并（OneID）；请先运行 `siyu identity resolve`",
                          "identities were never resolved; run `siyu identity resolve` first"))


def _rows(expr: ibis.Table) -> list[dict]:
    return expr.to_pyarrow().to_pylist()


def find_consumer(ws, text: str) -> Lookup:
    """Resolve ``text`` (a key or a consumer id) to the current consumer id(s)."""
    wh = ws.warehouse
    if not wh.has_table(T.MAP):
        raise _not_resolved()
    m = wh.table(T.MAP)
    text = text.strip()
    if is_consumer_id(text):
        if _rows(m.filter(m.consumer_id == text).select("consumer_id").limit(1)):
            return Lookup(text, [text], "consumer_id")
        current, path = _follow(ws, text)
        if not current:
            raise UnknownKey(tr("未知的消费者 ID {cid}", "unknown consumer id {cid}", cid=text))
        return Lookup(text, current, "history", history=path)
    try:
        key = normalize_key(text)
    except ValueError as e:
        raise UsageError(tr("无效的消费者标识：{why}", "invalid consumer key: {why}", why=e)) from None
    hit = _rows(m.filter(m.key == key).select("consumer_id"))
    if hit:
        return Lookup(text, [hit[0]["consumer_id"]], "key", key=key)
    if wh.has_table("key_seen"):
        ks = wh.table("key_seen")
        if _rows(ks.filter(ks.key == key).select("key").limit(1)):
            raise NotResolved(tr(
                "标识 {key} 在上次身份合并之后才导入；请运行 `siyu identity resolve`",
                "key {key} was imported after the last resolve; run `siyu identity resolve`",
                key=mask_key(key)))
    raise UnknownKey(tr("未知的消费者标识 {key}", "unknown consumer key {key}", key=mask_key(key)))


def _follow(ws, old_id: str) -> tuple[list[str], list[str]]:
    """Current ids reached from ``old_id`` through the latest change recorded for each id."""
    wh = ws.warehouse
    if not wh.has_table(T.CHANGES):
        return [], []
    ch = wh.table(T.CHANGES)
    m = wh.table(T.MAP)
    frontier, seen, current, path = [old_id], {old_id}, [], []
    while frontier:
        cid = frontier.pop(0)
        if cid != old_id and _rows(m.filter(m.consumer_id == cid).select("consumer_id").limit(1)):
            current.append(cid)
            continue
        rows = _rows(ch.filter(ch.old_consumer_id == cid)
                     .select("new_consumer_id", "changed_at"))
        if not rows:
            continue
        path.append(cid)
        latest: datetime = max(r["changed_at"] for r in rows)
        for r in rows:
            new = r["new_consumer_id"]
            if r["changed_at"] == latest and new and new not in seen:
                seen.add(new)
                frontier.append(new)
    return sorted(current), path


def keys_of(ws, consumer_id: str) -> list[dict]:
    """Every key of a consumer: ``key``, ``key_type``, ``first_seen``, oldest first."""
    m = ws.warehouse.table(T.MAP)
    rows = _rows(m.filter(m.consumer_id == consumer_id)
                 .select("key", "key_type", "first_seen"))
    return sorted(rows, key=lambda r: (r["first_seen"] is None, r["first_seen"] or 0, r["key"]))


def merged_into(ws, consumer_id: str) -> list[str]:
    """Old consumer ids recorded as merged or split into ``consumer_id``."""
    wh = ws.warehouse
    if not wh.has_table(T.CHANGES):
        return []
    ch = wh.table(T.CHANGES)
    rows = _rows(ch.filter(ch.new_consumer_id == consumer_id).select("old_consumer_id")
                 .distinct())
    return sorted(r["old_consumer_id"] for r in rows)


def list_conflicts(ws, limit: int = 20, mask: bool = True) -> tuple[int, list[dict]]:
    """The links the guard refused in the latest run: ``(total, first limit rows)`` in
    canonical link order, keys masked unless ``mask`` is false, times in the brand's zone."""
    wh = ws.warehouse
    if not wh.has_table(T.CONFLICTS):
        raise _not_resolved()
    c = wh.table(T.CONFLICTS)
    total = int(c.count().to_pyarrow().as_py())
    rows = _rows(c.order_by([c.observed_at.asc(nulls_first=False), c.key_a, c.key_b,
                             c.source.asc(nulls_first=False)]).limit(limit))
    zone = ws.settings.zone
    show = mask_key if mask else (lambda k: k)
    for r in rows:
        r["key_a"], r["key_b"] = show(r["key_a"]), show(r["key_b"])
        if r["observed_at"] is not None:
            r["observed_at"] = r["observed_at"].astimezone(zone).isoformat()
    return total, rows
