"""``siyu tag compute``: every tag's carriers written whole to the warehouse table
``tag_values``, with the catalogue ``tag_catalog`` (one row per tag: kind, source, version,
snapshot, consumers, skipped and why).

The new rows are built in a staging table and swapped in with the catalogue in one
transaction, so readers see the old tables or the new ones, never half. Order: manual tags
(read from the operational store, never changed here), model tags, text tags, then rule tags
each after the rule tags it uses — a rule's ``tag("…")`` reads the table being built.
A tag whose inputs are missing (no CLV predictions, an unknown scenario) is skipped and
reported; the others are still computed. Consumers who revoked consent for profiling get no
computed tag (:mod:`siyu.tags.consent`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import ibis
import pyarrow as pa

from siyu.audience.compile import AudienceNotReady
from siyu.errors import UsageError
from siyu.i18n import tr
from siyu.tags.consent import profiling_revoked
from siyu.tags.context import TAG_CATALOG, TAG_VALUES, TagContext
from siyu.tags.definitions import TagDef, TagDefs, definitions_of
from siyu.tags.kinds import KINDS, TagNotReady
from siyu.tags.kinds.chat import window_days
from siyu.tags.kinds.rule import rule_order

__all__ = ["compute", "today", "all_definitions", "STAGE", "COLUMNS"]

STAGE = "tag_values__next"
COLUMNS = ("consumer_id", "tag_group", "tag", "value", "kind", "source", "rule_version",
           "computed_at")
# no NOT NULL: audience set operations need the same nullability as identity_map's columns
_DDL = f"""CREATE TABLE {STAGE} (
    consumer_id VARCHAR,
    tag_group VARCHAR,
    tag VARCHAR,
    value VARCHAR,
    kind VARCHAR,          -- manual | rule | model | text
    source VARCHAR,        -- rule:<tag>, model:<model>, text:<scenario>, manual:<actor>
    rule_version VARCHAR,  -- hash of the definition, or the model / lexicon version
    computed_at TIMESTAMPTZ
)"""
_CATALOG = pa.schema([
    ("tag_group", pa.string()), ("tag", pa.string()), ("kind", pa.string()),
    ("source", pa.string()), ("rule_version", pa.string()), ("definition", pa.string()),
    ("description", pa.string()), ("as_of", pa.date32()),
    ("computed_at", pa.timestamp("us", "UTC")), ("consumers", pa.int64()),
    ("status", pa.string()), ("reason", pa.string()),
])
ORDER = ("manual", "model", "text", "rule")


def today(ws) -> date:
    """Today in the brand's zone."""
    return datetime.now(UTC).astimezone(ws.settings.zone).date()


def all_definitions(ws, ctx: TagContext | None = None) -> list[TagDef]:
    """The workspace's definitions plus the manual tags people set that no definition
    declares (in the group they were set in)."""
    from siyu.tags.manual import resolved

    defs = definitions_of(ws)
    rows = ctx.cache["manual"] if ctx and "manual" in ctx.cache else resolved(ws)
    if ctx is not None:
        ctx.cache["manual"] = rows
    extra: dict[str, TagDef] = {}
    for tag, group in zip(rows[0]["tag"].to_pylist(), rows[0]["tag_group"].to_pylist(),
                          strict=True):
        if defs.get(tag) is None and tag not in extra:
            extra[tag] = TagDef(group, tag, "manual")
    return [*defs.tags, *extra.values()]


def _ordered(defs: list[TagDef]) -> list[TagDef]:
    rules = rule_order(TagDefs(tuple(d for d in defs if d.kind == "rule"), ""))
    first = [d for k in ORDER[:-1] for d in defs if d.kind == k]
    other = [d for d in defs if d.kind not in ORDER]  # kinds a brand registered
    return [*first, *other, *rules]


def compute(ws, *, as_of: date | None = None, only: str | None = None,
            progress: Callable[[int, int], None] | None = None,
            index: bool = True) -> dict[str, Any]:
    """Refresh the tags at the end of local day ``as_of`` (default today): all kinds, or
    ``only`` one (the other kinds' rows are kept as they were; manual tags are always
    re-read; a tag of another kind that is new or whose definition changed is computed
    too). Then rebuilds the bitmap index of instant audience counts for the same day
    (:func:`siyu.audience.index.build_index`) unless ``index`` is false. Returns the
    ``--json`` summary with the count (and milliseconds) per tag."""
    if only is not None and only not in KINDS:
        raise UsageError(tr("--only 应为 {ok} 之一，却是 {v}", "--only is one of {ok}, not {v!r}",
                            ok=", ".join(KINDS), v=only))
    t0 = time.perf_counter()
    day = as_of or today(ws)
    ctx = TagContext(ws, day, tag_table=STAGE)
    defs = _ordered(all_definitions(ws, ctx))
    texts = [window_days(d, ws.settings) for d in defs if d.kind == "text"]
    ctx.cache["chat_days"] = max(texts, default=0)
    now = datetime.now(UTC)
    raw = ws.warehouse.raw
    raw.execute(f"DROP TABLE IF EXISTS {STAGE}")
    raw.execute(_DDL)
    kept = _keep_old(ws, defs, only)
    catalog: list[dict[str, Any]] = []
    ms: dict[str, float] = {}
    kept_names = {r["tag"] for r in kept}
    todo = [d for d in defs if d.name not in kept_names]
    try:
        for i, d in enumerate(todo):
            t1 = time.perf_counter()
            catalog.append(_one(ctx, d, now))
            ms[d.name] = round((time.perf_counter() - t1) * 1000, 1)
            if progress:
                progress(i + 1, len(todo))
        catalog = [*kept, *catalog]
        _swap(ws, catalog)
    except BaseException:
        raw.execute(f"DROP TABLE IF EXISTS {STAGE}")
        raise
    built = None
    if index:
        from siyu.audience.index import build_index

        stats = build_index(ws, day, values=ctx.cache.get("term_values"))
        built = {k: stats[k] for k in ("as_of", "consumers", "bitmaps", "bytes", "skipped",
                                      "ms") if k in stats}
    by_tag = {(c["tag"]): c for c in catalog}
    tags = [{"group": c["tag_group"], "tag": c["tag"], "kind": c["kind"],
             "consumers": c["consumers"], "status": c["status"],
             **({"reason": c["reason"]} if c["reason"] else {}),
             **({"ms": ms[c["tag"]]} if c["tag"] in ms else {})}
            for c in (by_tag[d.name] for d in defs if d.name in by_tag)]
    return {"as_of": day.isoformat(), "computed_at": now.isoformat(), "only": only,
            "tags": tags, "computed": sum(1 for t in tags if t["status"] == "ok"),
            "skipped": sum(1 for t in tags if t["status"] == "skipped"),
            "rows": ws.warehouse.count(TAG_VALUES),
            "manual_unresolved": ctx.cache["manual"][1], "index": built,
            "ms": round((time.perf_counter() - t0) * 1000, 1)}


def _one(ctx: TagContext, d: TagDef, now: datetime) -> dict[str, Any]:
    """Compute tag ``d`` into the staging table; its catalogue row."""
    kind = KINDS[d.kind]()
    row = {"tag_group": d.group, "tag": d.name, "kind": d.kind, "source": kind.source(d),
           "rule_version": d.version, "definition": kind.describe(d),
           "description": d.description, "as_of": ctx.as_of, "computed_at": now,
           "consumers": 0, "status": "ok", "reason": None}
    try:
        t = kind.compute(ctx, d)
        row["rule_version"] = kind.version(ctx, d)
    except (TagNotReady, AudienceNotReady) as e:
        return {**row, "status": "skipped", "reason": str(e)}
    if isinstance(t, pa.Table):
        t = ibis.memtable(t)
    revoked = profiling_revoked(ctx) if d.kind != "manual" else {}
    if revoked:
        gone = ibis.memtable(pa.table({"consumer_id": pa.array(sorted(revoked), pa.string())}))
        t = t.anti_join(gone, "consumer_id")
    source = t.source if "source" in t.columns else ibis.literal(row["source"])
    expr = t.select(
        consumer_id=t.consumer_id.cast("string"),
        tag_group=ibis.literal(d.group, type="string"),
        tag=ibis.literal(d.name, type="string"),
        value=t.value.cast("string"),
        kind=ibis.literal(d.kind, type="string"),
        source=source.cast("string"),
        rule_version=ibis.literal(row["rule_version"], type="string"),
        computed_at=ibis.literal(now, type="timestamp('UTC')"),
    )
    ctx.ws.warehouse.ibis.insert(STAGE, expr)
    raw = ctx.ws.warehouse.raw
    row["consumers"] = int(raw.execute(
        f"SELECT count(DISTINCT consumer_id) FROM {STAGE} WHERE tag = ?", [d.name]
    ).fetchall()[0][0])
    return row


def _keep_old(ws, defs: list[TagDef], only: str | None) -> list[dict[str, Any]]:
    """With ``only``: copy the current rows and catalogue entries of the other kinds' tags
    whose definition is unchanged since they were computed (same kind, same definition
    hash) and that were not skipped; the others — new, changed, skipped — are computed
    again."""
    if only is None or not ws.warehouse.has_table(TAG_VALUES) \
            or not ws.warehouse.has_table(TAG_CATALOG):
        return []
    keep = [d for d in defs if d.kind not in (only, "manual")]
    if not keep:
        return []
    raw = ws.warehouse.raw
    current = {d.name: d for d in keep}
    cat = ws.warehouse.table(TAG_CATALOG).to_pyarrow().to_pylist()
    rows = [r for r in cat if r["tag"] in current and r["status"] == "ok"
            and r["kind"] == current[r["tag"]].kind
            and (r["rule_version"] or "").startswith(current[r["tag"]].version)]
    names = [r["tag"] for r in rows]
    if names:
        cols = ", ".join(COLUMNS)
        raw.execute(f"INSERT INTO {STAGE} SELECT {cols} FROM {TAG_VALUES} "
                    f"WHERE list_contains(?, tag)", [names])
    return rows


def _swap(ws, catalog: list[dict[str, Any]]) -> None:
    """Replace ``tag_values`` by the staging table and write the catalogue, atomically."""
    raw = ws.warehouse.raw
    cat = pa.Table.from_pylist(catalog, schema=_CATALOG)
    raw.register("_tag_catalog", cat)
    raw.execute("BEGIN TRANSACTION")
    try:
        raw.execute(f"DROP TABLE IF EXISTS {TAG_VALUES}")
        raw.execute(f"ALTER TABLE {STAGE} RENAME TO {TAG_VALUES}")
        raw.execute(f"CREATE OR REPLACE TABLE {TAG_CATALOG} AS SELECT * FROM _tag_catalog")
        raw.execute("COMMIT")
    except BaseException:
        raw.execute("ROLLBACK")
        raise
    finally:
        raw.unregister("_tag_catalog")
