"""``siyu metrics community``: community (社群) metrics of a period (DOMAIN.md §11)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table as RichTable

from siyu.cli.app import HomeOpt, JsonOpt, emit_json, out
from siyu.cli.metrics_cmds import (
    GrainOpt,
    PeriodOpt,
    RecomputeOpt,
    label,
    metrics_app,
    open_metrics_workspace,
    period_arg,
    say_route,
)
from siyu.i18n import tr
from siyu.results.service import COMMUNITY_METRICS as METRICS

TYPE_LABELS = {"normal": ("普通群", "normal"), "member": ("会员群", "member")}


def _fmt(kind: str, v) -> str:
    if v is None:
        return "—"
    if kind == "n":
        return f"{v:,}"
    if kind == "y":
        return f"¥{v:,.2f}"
    if kind == "r":
        return f"{v:.1%}"
    return f"{v:,.2f}"


COMMUNITY_HELP = (
    "Community (社群) metrics of a period, per group, group type, store and overall "
    "(DOMAIN.md §11).\n\n"
    "Members are counted at the end of the period; joins (by source), messages, orders and GMV "
    "within it. Groups are the touchpoints with field group_chat; a group counts when it has a "
    "member at the end; groups with members ≥ group_capacity are flagged at capacity."
)


@metrics_app.command("community", help=COMMUNITY_HELP)
def community_cmd(
    period: PeriodOpt,
    grain: GrainOpt = None,
    limit: Annotated[int, typer.Option(
        "--limit", min=0, help="Groups shown in the table (largest first; --json lists all).")
    ] = 20,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
    recompute: RecomputeOpt = False,
) -> None:
    """``siyu metrics community`` (help: :data:`COMMUNITY_HELP`)."""
    from siyu.results.service import community

    ws = open_metrics_workspace(home)
    try:
        p = period_arg(ws, period, grain)
        result, route = community(ws, p, route="computed" if recompute else None)
    finally:
        ws.close()
    say_route(route, as_json)

    if as_json:
        emit_json(result)
        return
    _print(result, limit)


def _print(res: dict, limit: int) -> None:
    rt = RichTable(title=tr("社群指标 {p}", "community metrics {p}", p=res["period"]),
                   title_justify="left")
    rt.add_column(label("指标", "metric"))
    rt.add_column(label("全部", "overall"), justify="right")
    for t, (zh, en) in TYPE_LABELS.items():
        if t in res["by_type"]:
            rt.add_column(label(zh, en), justify="right")
    for col, zh, en, kind in METRICS:
        if col not in res["overall"]:
            continue
        cells = [_fmt(kind, res["overall"][col])]
        cells += [_fmt(kind, v.get(col)) for v in res["by_type"].values()]
        rt.add_row(label(zh, en), *cells)
    joins = res["overall"]["joins_by_source"]
    if joins:
        rt.add_row(label("入群来源", "joins by source"),
                   ", ".join(f"{s} {n:,}" for s, n in joins.items()),
                   *[""] * len(res["by_type"]))
    out.print(rt)

    short = [("groups", "n"), ("members", "n"), ("active_rate", "r"), ("orders", "n"),
             ("gmv", "y"), ("conversion", "r"), ("repurchase_rate", "r")]
    heads = {col: label(zh, en, "\n") for col, zh, en, _ in METRICS}
    if res["by_store"]:
        st = RichTable(title=label("门店", "by store"), title_justify="left")
        st.add_column(label("门店", "store", "\n"))
        for col, _ in short:
            st.add_column(heads[col], justify="right")
        for s in res["by_store"]:
            st.add_row(s["store_id"] or "—", *[_fmt(k, s[c]) for c, k in short])
        out.print(st)
    if res["groups"] and limit:
        shown = sorted(res["groups"], key=lambda g: (-g["members"], g["field_ref"]))[:limit]
        short = [x for x in short if x[0] in ("members", "active_rate", "gmv", "conversion")]
        gt = RichTable(title=tr("群（成员最多的 {k} 个，共 {n} 个）",
                                "groups (the {k} largest of {n})", k=len(shown),
                                n=len(res["groups"])), title_justify="left")
        for h in (label("群", "group", "\n"), label("类型", "type", "\n"),
                  label("门店", "store", "\n")):
            gt.add_column(h)
        for col, _ in short:
            gt.add_column(heads[col], justify="right")
        gt.add_column(label("满员", "full", "\n"))
        for g in shown:
            name = g["field_ref"] + (f" {g['name']}" if g["name"] else "")
            gt.add_row(name, TYPE_LABELS.get(g["group_type"], (g["group_type"],))[0],
                       g["store_id"] or "—",
                       *[_fmt(k, g[c]) for c, k in short],
                       "⚠" if g["at_capacity"] else "")
        out.print(gt)
        full = sum(g["at_capacity"] for g in res["groups"])
        if full:
            out.print(tr("{n} 个群成员已达 {c} 人，应拆分新群",
                         "{n} groups reached {c} members and should be split",
                         n=full, c=res["group_capacity"]))
