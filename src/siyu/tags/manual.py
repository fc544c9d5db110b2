"""Manual tags (手工标签): set, unset and imported by people, kept in the operational store
(table ``manual_tags``) and never changed by ``siyu tag compute``, which only reads them.

Keys are what people type — a consumer key (``phone:138…``, ``wecom:…``; any spelling
:func:`~siyu.identity.keys.normalize_key` accepts) or a consumer id — stored normalised and
resolved through the OneID map at every compute, so a later merge moves the tag with the
person. When two keys of one consumer carry the same tag, the latest setting wins.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlalchemy import and_, bindparam, delete, or_, select

from siyu.errors import SiyuError, UsageError
from siyu.i18n import tr
from siyu.identity.keys import is_consumer_id, normalize_key
from siyu.identity.lookup import UnknownKey, find_consumer
from siyu.ops.audit import record
from siyu.ops.tables import manual_tags
from siyu.tags.definitions import MANUAL_GROUP, NAME_MAX, definitions_of

__all__ = ["set_tag", "unset_tag", "import_csv", "resolved", "ImportResult", "NotManual"]

COLUMNS = ("key", "tag", "value", "group")


class NotManual(UsageError):
    """The tag is defined with another kind (rule, model, text): compute sets it, not people."""


def _check_name(name: str, what: str) -> str:
    if not name or len(name) > NAME_MAX or name != name.strip():
        raise UsageError(tr("{w}名称应为 1–{n} 个字符、首尾无空格",
                            "a {w} name has 1–{n} characters and no surrounding spaces",
                            w=what, n=NAME_MAX))
    return name


def _group_for(ws, defs, tag: str, group: str | None) -> str:
    """The group a manual tag belongs to, checked against the definitions and the rows
    already stored (a tag lives in one group)."""
    d = defs.get(tag)
    if d is not None and d.kind != "manual":
        raise NotManual(tr("标签 {t} 是 {k} 类标签，由 `siyu tag compute` 计算，不能手工设置",
                           "tag {t!r} is a {k} tag computed by `siyu tag compute`; it cannot "
                           "be set by hand", t=tag, k=d.kind))
    if d is not None:
        if group not in (None, d.group):
            raise UsageError(tr("标签 {t} 属于组 {g}（{f}），不是 {x}",
                                "tag {t!r} belongs to group {g!r} ({f}), not {x!r}",
                                t=tag, g=d.group, f=defs.source, x=group))
        return d.group
    with ws.ops.engine.connect() as c:
        have = c.execute(select(manual_tags.c.tag_group).where(manual_tags.c.tag == tag)
                         .limit(1)).scalar()
    if have is not None and group not in (None, have):
        raise UsageError(tr("标签 {t} 已在组 {g} 中使用，不是 {x}",
                            "tag {t!r} is already used in group {g!r}, not {x!r}",
                            t=tag, g=have, x=group))
    return have or _check_name(group or MANUAL_GROUP, tr("标签组", "tag group"))


def _stored_key(ws, key: str) -> tuple[str, str]:
    """(the key as stored, its current consumer id)."""
    look = find_consumer(ws, key)
    if len(look.consumer_ids) != 1:
        raise UsageError(tr("{k} 对应多个消费者（已拆分）：{ids}；请用消费者 ID",
                            "{k} now belongs to several consumers (split): {ids}; use a "
                            "consumer id", k=look.key or key, ids=", ".join(look.consumer_ids)))
    stored = look.key if look.via == "key" else look.consumer_ids[0]
    return stored, look.consumer_ids[0]  # type: ignore[return-value]


def set_tag(ws, key: str, tag: str, value: str | None = None, group: str | None = None, *,
            actor: str, source: str = "cli") -> dict[str, Any]:
    """Give the consumer of ``key`` the manual tag ``tag`` (replacing the value this key had
    for it). Audited (no personal data: the consumer id, not the key)."""
    _check_name(tag, tr("标签", "tag"))
    grp = _group_for(ws, definitions_of(ws), tag, group)
    stored, cid = _stored_key(ws, key)
    row = {"key": stored, "consumer_id": cid, "tag": tag, "tag_group": grp, "value": value,
           "actor": actor, "source": source, "set_at": datetime.now(UTC)}
    with ws.ops.engine.begin() as c:
        gone = c.execute(delete(manual_tags).where(and_(manual_tags.c.key == stored,
                                                        manual_tags.c.tag == tag))).rowcount
        c.execute(manual_tags.insert().values(**row))
        record(ws.ops, actor, "tag_set", cid, {"tag": tag, "group": grp}, conn=c)
    return {"consumer_id": cid, "tag": tag, "group": grp, "value": value,
            "replaced": bool(gone)}


def unset_tag(ws, key: str, tag: str, *, actor: str) -> dict[str, Any]:
    """Remove manual tag ``tag`` from the consumer of ``key`` (every key of theirs that
    carries it); an error when they do not carry it."""
    stored, cid = _stored_key(ws, key)
    with ws.ops.engine.begin() as c:
        n = c.execute(delete(manual_tags).where(and_(
            manual_tags.c.tag == tag,
            or_(manual_tags.c.key == stored, manual_tags.c.consumer_id == cid,
                manual_tags.c.key == cid)))).rowcount
        if n:
            record(ws.ops, actor, "tag_unset", cid, {"tag": tag}, conn=c)
    if not n:
        raise SiyuError(tr("消费者 {c} 没有手工标签 {t}", "consumer {c} has no manual tag {t!r}",
                           c=cid, t=tag))
    return {"consumer_id": cid, "tag": tag, "removed": n}


# -- CSV import ------------------------------------------------------------------------------

@dataclass
class ImportResult:
    """What ``siyu tag import`` did; ``rejects`` hold line, column and reason (no keys)."""

    file: str
    read: int = 0
    loaded: int = 0
    rejects: list[dict[str, Any]] = field(default_factory=list)
    rejects_file: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "read": self.read, "loaded": self.loaded,
                "rejected": len(self.rejects), "rejects": self.rejects[:20],
                "rejects_file": self.rejects_file}


def _map_lookup(ws, keys: set[str], column: str) -> dict[str, str]:
    """``key`` or ``consumer_id`` → consumer id for the values present in identity_map."""
    if not keys or not ws.warehouse.has_table("identity_map"):
        return {}
    m = ws.warehouse.table("identity_map")
    out: dict[str, str] = {}
    items = sorted(keys)
    for i in range(0, len(items), 50_000):
        part = m.filter(m[column].isin(items[i:i + 50_000])).select(column, "consumer_id")
        for r in part.distinct().to_pyarrow().to_pylist():
            out[r[column]] = r["consumer_id"]
    return out


def _follow(ws, cid: str) -> str | None:
    try:
        look = find_consumer(ws, cid)
    except (UnknownKey, SiyuError):
        return None
    return look.consumer_ids[0] if len(look.consumer_ids) == 1 else None


def _resolve(ws, stored: set[str]) -> dict[str, str]:
    """Stored keys → current consumer ids (keys through the map, ids directly or through
    their recorded merges); unknown ones are absent."""
    keys = {k for k in stored if not is_consumer_id(k)}
    ids = stored - keys
    out = _map_lookup(ws, keys, "key")
    found = _map_lookup(ws, ids, "consumer_id")
    out.update(found)
    for cid in ids - found.keys():
        cur = _follow(ws, cid)
        if cur:
            out[cid] = cur
    return out


def import_csv(ws, path: Path, *, actor: str) -> ImportResult:
    """Load ``key,tag[,value][,group]`` rows (a header row is optional). Each bad row is
    rejected with its line, column and reason; the good rows still load."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(tr("文件不存在：{f}", "file not found: {f}", f=path))
    res = ImportResult(str(path))
    defs = definitions_of(ws)
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except (UnicodeDecodeError, csv.Error) as e:
        raise UsageError(tr("{f}：无法读取为 UTF-8 CSV：{e}", "{f}: cannot read as UTF-8 CSV: {e}",
                            f=path, e=e)) from None
    start = 1
    if rows and [c.strip().lower() for c in rows[0]][:2] == ["key", "tag"]:
        start = 2
    good: list[tuple[int, str, str, str | None, str | None]] = []

    def reject(line: int, column: str, zh: str, en: str, **kw) -> None:
        res.rejects.append({"line": line, "column": column, "reason": tr(zh, en, **kw)})

    groups: dict[str, str] = {}
    for line, row in enumerate(rows[start - 1:], start=start):
        if not any(c.strip() for c in row):
            continue
        res.read += 1
        if len(row) > len(COLUMNS):
            reject(line, "group", "列数过多：应为 key,tag[,value][,group]",
                   "too many columns: expected key,tag[,value][,group]")
            continue
        row = [c.strip() for c in row] + [""] * (len(COLUMNS) - len(row))
        key, tag, value, group = row
        if not key:
            reject(line, "key", "缺少标识", "missing key")
            continue
        if not is_consumer_id(key):
            try:
                key = normalize_key(key)
            except ValueError as e:
                reject(line, "key", "{e}", "{e}", e=e)
                continue
        if not tag or len(tag) > NAME_MAX:
            reject(line, "tag", "标签名称应为 1–{n} 个字符", "a tag name has 1–{n} characters",
                   n=NAME_MAX)
            continue
        try:
            grp = groups.get(tag) or _group_for(ws, defs, tag, group or None)
        except UsageError as e:
            reject(line, "tag" if isinstance(e, NotManual) else "group", "{e}", "{e}", e=e)
            continue
        if group and group != grp:
            reject(line, "group", "标签 {t} 属于组 {g}，不是 {x}",
                   "tag {t!r} belongs to group {g!r}, not {x!r}", t=tag, g=grp, x=group)
            continue
        groups[tag] = grp
        good.append((line, key, tag, value or None, grp))
    ids = _resolve(ws, {k for _, k, _, _, _ in good})
    now = datetime.now(UTC)
    out = []
    for line, key, tag, value, grp in good:
        cid = ids.get(key)
        if cid is None:
            reject(line, "key", "未知的消费者（不在 OneID 映射中；新导入的标识请先运行 "
                   "`siyu identity resolve`）", "unknown consumer (not in the OneID map; run "
                   "`siyu identity resolve` after importing new keys)")
            continue
        out.append({"key": key, "consumer_id": cid, "tag": tag, "tag_group": grp,
                    "value": value, "actor": actor, "source": f"csv:{path.name}:{line}",
                    "set_at": now})
    last = {(r["key"], r["tag"]): r for r in out}  # a later line of the file wins
    with ws.ops.engine.begin() as c:
        if last:
            c.execute(delete(manual_tags).where(and_(
                manual_tags.c.key == bindparam("k"), manual_tags.c.tag == bindparam("t"))),
                [{"k": k, "t": t} for k, t in last])
            c.execute(manual_tags.insert(), list(last.values()))
        record(ws.ops, actor, "tag_import", path.name,
               {"read": res.read, "loaded": len(out), "rejected": len(res.rejects)}, conn=c)
    res.loaded = len(out)
    res.rejects.sort(key=lambda r: r["line"])
    if res.rejects:
        res.rejects_file = str(_write_rejects(ws, path, res.rejects))
    return res


def _write_rejects(ws, path: Path, rejects: list[dict[str, Any]]) -> Path:
    ws.rejects_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    out = ws.rejects_dir / f"manual_tags-{path.stem}-{stamp}.csv"
    with open(out, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, ["file", "line", "column", "reason"])
        w.writeheader()
        for r in rejects:
            w.writerow({"file": path.name, **r})
    return out


# -- for compute -----------------------------------------------------------------------------

def resolved(ws) -> tuple[pa.Table, int]:
    """Every manual tag with its current consumer: ``(consumer_id, tag, tag_group, value,
    source, set_at)``, one row per consumer and tag (the latest setting), and how many rows
    had a key that no longer resolves."""
    with ws.ops.engine.connect() as c:
        rows = [dict(r._mapping) for r in c.execute(select(manual_tags))]
    ids = _resolve(ws, {r["key"] for r in rows})
    best: dict[tuple[str, str], dict[str, Any]] = {}
    lost = 0
    for r in rows:
        cid = ids.get(r["key"])
        if cid is None:
            lost += 1
            continue
        k = (cid, r["tag"])
        if k not in best or (r["set_at"], r["id"]) > (best[k]["set_at"], best[k]["id"]):
            best[k] = {**r, "consumer_id": cid}
    items = sorted(best.values(), key=lambda r: (r["tag"], r["consumer_id"]))
    return pa.table({
        "consumer_id": pa.array([r["consumer_id"] for r in items], pa.string()),
        "tag": pa.array([r["tag"] for r in items], pa.string()),
        "tag_group": pa.array([r["tag_group"] for r in items], pa.string()),
        "value": pa.array([r["value"] for r in items], pa.string()),
        "source": pa.array([f"manual:{r['actor']}" for r in items], pa.string()),
        "set_at": pa.array([_utc(r["set_at"]) for r in items], pa.timestamp("us", "UTC")),
    }), lost


def _utc(t: datetime) -> datetime:
    """SQLite gives naive datetimes back: they were stored in UTC."""
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def manual_row(ws, consumer_id: str, tag: str) -> dict[str, Any] | None:
    """The manual setting behind a consumer's tag: actor, time, source, key type."""
    with ws.ops.engine.connect() as c:
        rows = [dict(r._mapping) for r in c.execute(
            select(manual_tags).where(manual_tags.c.tag == tag))]
    ids = _resolve(ws, {r["key"] for r in rows})
    mine = [r for r in rows if ids.get(r["key"]) == consumer_id]
    if not mine:
        return None
    r = max(mine, key=lambda r: (_utc(r["set_at"]), r["id"]))
    return {"actor": r["actor"], "set_at": _utc(r["set_at"]).isoformat(), "source": r["source"],
            "value": r["value"], "group": r["tag_group"],
            "key_type": r["key"].partition(":")[0] if ":" in r["key"] else "consumer_id"}
