"""Report sheet: community (社群) metrics of the period (DOMAIN.md §11): the object of
``siyu metrics community --json`` (:func:`siyu.results.service.community`: the stored results
when fresh, else the model) — overall and per group type, joins by source, per store, per
group."""

from __future__ import annotations

from siyu.cli.metrics_cmds import label
from siyu.cli.metrics_community import TYPE_LABELS
from siyu.report.context import Context
from siyu.report.layout import Column, Kind, Sheet, Table, Typed
from siyu.results.service import COMMUNITY_METRICS as METRICS
from siyu.results.service import GROUP_ONLY_SKIP

__all__ = ["community_sheet"]

KINDS: dict[str, Kind] = {"n": "int", "r": "rate", "y": "money", "x": "ratio"}
"""The CLI's metric kinds (count, rate, yuan, ratio) as report kinds."""


def _label(zh: str, en: str) -> str:
    """``群数 groups``; a term the same in both languages once (``GMV``)."""
    return zh if zh == en else label(zh, en)


def _level_table(rows: list[dict], key_col: Column, key: str, extra: list[tuple[Column, str]],
                 skip: tuple[str, ...], title: str) -> Table:
    """One row per entity of a level (stores, groups) with every metric it has."""
    metrics = [(c, zh, en, k) for c, zh, en, k in METRICS
               if rows and c in rows[0] and c not in skip]
    cols = [key_col, *[c for c, _ in extra]]
    cols += [Column(_label(zh, en), KINDS[k]) for _, zh, en, k in metrics]
    body = [[r[key] or None, *[None if r[name] == "" else r[name] for _, name in extra],
             *[r.get(c) for c, _, _, _ in metrics]] for r in rows]
    return Table(cols, body, title=title)


def community_sheet(ctx: Context) -> Sheet:
    from siyu.models.community import GROUP_TYPES
    from siyu.results import service

    r = ctx.read("community", service.community(ctx.ws, ctx.period))
    overall, by_type = r["overall"], r["by_type"]
    by_store, groups = r["by_store"], [dict(g) for g in r["groups"]]

    levels = [overall, *[by_type[t] for t in GROUP_TYPES]]
    cols = [Column(label("指标", "metric")), Column(label("全部", "overall"))]
    cols += [Column(label(*TYPE_LABELS[t])) for t in GROUP_TYPES]
    rows = [[_label(zh, en), *[Typed(lv.get(c), KINDS[k]) for lv in levels]]
            for c, zh, en, k in METRICS if c in overall]
    head = Table(cols, rows, notes=[label(
        f"成员按期末计；满员 = 成员 ≥ {ctx.settings.group_capacity}",
        f"members at the end of the period; at capacity = members ≥ "
        f"{ctx.settings.group_capacity}", " / ")])

    per_source: dict[str, list[int]] = {}
    for i, level in enumerate(levels):
        for source, n in level["joins_by_source"].items():
            per_source.setdefault(source, [0] * len(levels))[i] += n
    src_rows = [[s, *n] for s, n in sorted(per_source.items(), key=lambda kv: (-kv[1][0], kv[0]))]
    by_source = Table([Column(label("入群来源", "joins by source"), "id"),
                       *[Column(c.label, "int") for c in cols[1:]]], src_rows,
                      title=label("入群来源", "joins by source"))

    stores = _level_table(by_store, Column(label("门店", "store"), "id"), "store_id", [], (),
                          label("门店", "by store"))
    for row in groups:
        zh, en = TYPE_LABELS.get(row["group_type"], (row["group_type"], row["group_type"]))
        row["type_label"] = label(zh, en)
    per_group = _level_table(
        groups, Column(label("群", "group") + " field_ref", "id"), "field_ref",
        [(Column(label("群名", "name")), "name"), (Column(label("类型", "type")), "type_label"),
         (Column(label("门店", "store"), "id"), "store_id"),
         (Column(label("满员", "at capacity"), "bool"), "at_capacity")],
        (*GROUP_ONLY_SKIP, "at_capacity"), label("群", "by group"))
    return Sheet("社群 Community", [head, by_source, stores, per_group], freeze_columns=1)
