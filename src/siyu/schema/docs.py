"""The data-model document and JSON description, generated from ``siyu.schema``."""

from __future__ import annotations

from siyu.schema import (
    CONNECTION_STRENGTH,
    ENGAGED_TYPES,
    KEY_TYPES,
    SYSTEM_COLUMNS,
    TABLES,
    Table,
    import_order,
)


def schema_json(tables: list[Table]) -> dict:
    return {
        "tables": [
            {
                "name": t.name, "doc": t.doc, "kind": t.kind, "id_columns": list(t.id_columns),
                "columns": [
                    {"name": c.name, "type": c.type, "required": c.required, "doc": c.doc,
                     **({"values": list(c.values)} if c.values else {}),
                     **({"default": c.default} if c.default is not None else {})}
                    for c in t.columns
                ],
            }
            for t in tables
        ]
    }


def schema_markdown(tables: list[Table] | None = None) -> str:
    tables = tables or list(TABLES.values())
    lines = [
        "# Data model: the canonical tables",
        "",
        "Generated from `src/siyu/schema/__init__.py` by `siyu schema --markdown`; a test keeps "
        "this file equal to that output. Rules: `DOMAIN.md` §2.",
        "",
        "## Conventions",
        "",
        "- Files may be CSV, JSONL, Parquet or Excel (first sheet, header row). Column names "
        "are exact; extra columns are kept as a JSON object in `attrs`.",
        "- **Consumer keys** are `type:value`, type one of "
        + ", ".join(f"`{k}`" for k in KEY_TYPES)
        + ". Phone values are normalised to the 11-digit mainland mobile number (`+86`, `86`, "
        "spaces, dashes and brackets removed); anything else is rejected.",
        "- **Timestamps** are stored in UTC (`TIMESTAMPTZ`). A value with a zone or offset "
        "(`2025-03-01T10:00:00+08:00`, `…Z`) is taken as written; a naive one "
        "(`2025-03-01 10:00:00`, `2025/03/01 10:00`, `2025-03-01`) is read in the brand's "
        "time zone.",
        "- **Money** is yuan with two decimals (`DECIMAL(18,2)`); more decimals are rounded.",
        "- **Booleans** accept true/false, 1/0, yes/no, y/n, 是/否.",
        "- **Idempotence**: a row whose id columns match a stored row (or an earlier row of the "
        "same file) is a duplicate: counted and skipped. Dimension tables (stores, guides, "
        "touchpoints, consumers) use the whole row as id: re-importing a file adds nothing, a "
        "changed row is stored as a new version and the latest one wins.",
        "- Every stored row also carries "
        + ", ".join(f"`{n}` ({doc})" for n, _, doc in SYSTEM_COLUMNS) + ".",
        "- Import order for `siyu import --all`: "
        + " → ".join(f"`{t.name}`" for t in import_order()) + ".",
        "- Engaged interaction types: " + ", ".join(f"`{t}`" for t in ENGAGED_TYPES)
        + "; every type but `message_sent` counts as a visit.",
        "- Field connection strength: "
        + "; ".join(f"`{f}` {s}" for f, s in CONNECTION_STRENGTH.items()) + ".",
        "",
    ]
    for t in tables:
        ids = ", ".join(f"`{c}`" for c in t.id_columns) or "the whole row"
        lines += [f"## `{t.name}`", "", t.doc, "", f"Kind: {t.kind}; id: {ids}.", "",
                  "| column | type | required | notes |", "|---|---|---|---|"]
        for c in t.columns:
            notes = c.doc
            if c.values:
                notes = (notes + "; " if notes else "") + "one of " + ", ".join(
                    f"`{v}`" for v in c.values)
            if c.default is not None:
                notes += f"; default `{c.default}`"
            if c.min is not None or c.max is not None:
                lo = "" if c.min is None else f"{c.min:g}"
                hi = "" if c.max is None else f"{c.max:g}"
                rng = (f"{lo} ≤ value" + (f" ≤ {hi}" if hi else "")) if lo else f"value ≤ {hi}"
                notes = f"{notes}; {rng}" if notes else rng
            if c.aliases:
                notes += "; also accepts " + ", ".join(f"`{k}`→`{v}`" for k, v in
                                                        c.aliases.items())
            lines.append(f"| `{c.name}` | {c.type} | {'yes' if c.required else ''} | {notes} |")
        lines.append("")
    return "\n".join(lines)
