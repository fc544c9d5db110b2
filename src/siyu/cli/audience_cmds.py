"""``siyu audience …``: the audience language (人群圈选, PRODUCT.md C6): counts, saved
audiences with refresh diffs, export and the bitmap index. Thin adapters over
:mod:`siyu.audience`."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from siyu.cli.app import HomeOpt, JsonOpt, app, emit_json, out
from siyu.errors import UsageError
from siyu.i18n import tr

audience_app = typer.Typer(help="Audiences 人群圈选: count consumers with an expression such as "
                                "'tier >= 3 and orders(last 90d) >= 2'.",
                           no_args_is_help=True)
app.add_typer(audience_app, name="audience")

NameArg = Annotated[str, typer.Argument(metavar="NAME", help="The saved audience's name.")]
AsOfOpt = Annotated[str | None, typer.Option(
    "--as-of", metavar="DATE", help="Evaluate at the end of this brand-local day "
    "[default: today].", show_default=False)]

ExprArg = Annotated[str, typer.Argument(
    metavar="EXPR", help="An audience expression, e.g. 'tier >= 3 and not rfm = \"dormant\" and "
    "in_field(\"group_chat\")'. See docs/audiences.md.")]


def _as_of(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(tr("--as-of 无法识别的日期 {t}：应写作 2025-03-31",
                            "--as-of: cannot read date {t!r}: expected 2025-03-31",
                            t=text)) from None


@audience_app.command("count")
def count_cmd(
    expr: ExprArg,
    as_of: AsOfOpt = None,
    explain: Annotated[bool, typer.Option(
        "--explain", help="Also show which terms came from the bitmap index and which from "
        "the warehouse (--json: adds \"index\", \"why\", \"terms\").")] = False,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """How many consumers EXPR selects: prints the count (--json: {"count", "ms"}). Counted on
    the bitmap index when it is fresh (`siyu audience index`), else in the warehouse."""
    from siyu.audience import count
    from siyu.audience.parse import parse
    from siyu.cli.metrics_cmds import open_metrics_workspace

    tree = parse(expr)  # a syntax error is reported before the workspace is opened
    day = _as_of(as_of)
    ws = open_metrics_workspace(home)
    try:
        got = count(ws, tree, day, explain=explain)
    finally:
        ws.close()
    if as_json:
        emit_json(got)
        return
    out.print(tr(f"{got['count']:,} 人（{got['ms']:.0f} 毫秒）",
                 f"{got['count']:,} consumers ({got['ms']:.0f} ms)"))
    if explain:
        if not got["index"]:
            out.print(tr("未使用索引：{w}", "index not used: {w}", w=got["why"]), markup=False)
        for t in got["terms"]:
            src = tr("索引", "index") if t["from"] == "index" else tr("数据仓库", "warehouse")
            why = f"  ({t['why']})" if t["why"] else ""
            out.print(f"  {src:<10} {t['term']}{why}", markup=False)


@audience_app.command("parse")
def parse_cmd(expr: ExprArg, as_json: JsonOpt = False) -> None:
    """Check EXPR and print its canonical text (--json: its JSON tree)."""
    from siyu.audience.jsonform import to_json
    from siyu.audience.parse import parse
    from siyu.audience.text import to_text

    tree = parse(expr)
    if as_json:
        emit_json(to_json(tree))
    else:
        out.print(to_text(tree), markup=False)


@audience_app.command("save")
def save_cmd(
    name: NameArg,
    expr: ExprArg,
    replace: Annotated[bool, typer.Option("--replace", help="Change the expression of an "
                                          "existing audience.")] = False,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Save EXPR as audience NAME (checked: it parses and compiles, every in_audience names a
    saved audience, no cycles). Refresh it with `siyu audience refresh NAME`."""
    from siyu.audience.parse import parse
    from siyu.audience.saved import check_name, save
    from siyu.cli.app import open_workspace
    from siyu.ops.audit import cli_actor

    check_name(name)
    tree = parse(expr)
    ws = open_workspace(home)
    try:
        got = save(ws, name, tree, replace=replace, actor=cli_actor())
    finally:
        ws.close()
    if as_json:
        emit_json(got)
        return
    verb = tr("已保存", "saved") if got["created"] else tr("已更新", "updated")
    out.print(f"{verb} {got['name']}: {got['expr']}", markup=False)
    if got["note"]:
        out.print(tr("注意：{n}", "note: {n}", n=got["note"]), markup=False)


@audience_app.command("list")
def list_cmd(home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """Every saved audience with its last refresh (--json: {"audiences": [...]})."""
    from rich.table import Table as RichTable

    from siyu.audience.saved import list_saved
    from siyu.cli.app import open_workspace

    ws = open_workspace(home)
    try:
        rows = list_saved(ws)
    finally:
        ws.close()
    if as_json:
        emit_json({"audiences": rows})
        return
    if not rows:
        out.print(tr("还没有保存的人群；用 `siyu audience save NAME EXPR` 保存",
                     "no saved audiences yet; save one with `siyu audience save NAME EXPR`"))
        return
    t = RichTable()
    for c in (tr("人群", "audience"), tr("表达式", "expression"), tr("人数", "members"),
              tr("进入", "entered"), tr("离开", "left"), tr("刷新于", "refreshed")):
        t.add_column(c)
    for r in rows:
        last = r["last_refresh"] or {}
        t.add_row(r["name"], r["expr"], f"{last['members']:,}" if last else "—",
                  f"{last['entered']:,}" if last else "—", f"{last['left']:,}" if last else "—",
                  last.get("at", "—"))
    out.print(t)


@audience_app.command("show")
def show_cmd(name: NameArg, home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """One saved audience: its expression, the audiences it uses and is used by, its last
    refresh."""
    from siyu.audience.saved import get
    from siyu.cli.app import open_workspace

    ws = open_workspace(home)
    try:
        r = get(ws, name)
    finally:
        ws.close()
    if as_json:
        emit_json(r)
        return
    last = r["last_refresh"]
    lines = [f"{tr('人群', 'audience')}: {r['name']}", f"{tr('表达式', 'expression')}: {r['expr']}",
             f"{tr('创建', 'created')}: {r['created_at']} ({r['created_by']})",
             f"{tr('引用', 'uses')}: {', '.join(r['uses']) or '—'}",
             f"{tr('被引用', 'used by')}: {', '.join(r['used_by']) or '—'}"]
    if last:
        lines.append(tr("上次刷新 {at}（截至 {d}）：{m:,} 人，进入 {e:,}，离开 {l:,}",
                        "last refresh {at} (as of {d}): {m:,} members, {e:,} entered, "
                        "{l:,} left", at=last["at"], d=last["as_of"], m=last["members"],
                        e=last["entered"], l=last["left"]))
    else:
        lines.append(tr("尚未刷新", "never refreshed"))
    for line in lines:
        out.print(line, markup=False)


@audience_app.command("delete")
def delete_cmd(name: NameArg, home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """Delete a saved audience and its current members (the enter/leave history stays);
    refused while another audience uses it."""
    from siyu.audience.saved import delete
    from siyu.cli.app import open_workspace

    ws = open_workspace(home)
    try:
        got = delete(ws, name)
    finally:
        ws.close()
    if as_json:
        emit_json(got)
    else:
        out.print(tr("已删除 {n}", "deleted {n}", n=name), markup=False)


@audience_app.command("refresh")
def refresh_cmd(
    name: Annotated[str | None, typer.Argument(
        metavar="[NAME]", help="One audience (and the audiences it uses) [default: all].",
        show_default=False)] = None,
    as_of: AsOfOpt = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Recompute saved audiences in dependency order: store the members and who entered and
    left since the last refresh (warehouse tables audience_members, audience_changes)."""
    from siyu.audience.refresh import refresh
    from siyu.audience.saved import refresh_order
    from siyu.cli.metrics_cmds import open_metrics_workspace
    from siyu.cli.progress import count_progress

    day = _as_of(as_of)
    ws = open_metrics_workspace(home)
    try:
        total = len(refresh_order(ws, name))
        with count_progress(tr("刷新人群", "refresh"), total, enabled=not as_json) as p:
            got = refresh(ws, name, day, progress=p)
    finally:
        ws.close()
    if as_json:
        emit_json(got)
        return
    if not got["audiences"]:
        out.print(tr("没有保存的人群", "no saved audiences"))
    for r in got["audiences"]:
        out.print(tr("{a}：{m:,} 人（进入 {e:,}，离开 {l:,}；{ms} 毫秒）",
                     "{a}: {m:,} members ({e:,} entered, {l:,} left; {ms} ms)",
                     a=r["audience"], m=r["members"], e=r["entered"], l=r["left"],
                     ms=r["ms"]), markup=False)


@audience_app.command("export")
def export_cmd(
    name: NameArg,
    out_file: Annotated[Path, typer.Option("--out", metavar="FILE",
                                           help="FILE.csv or FILE.xlsx.")],
    unmasked: Annotated[bool, typer.Option(
        "--unmasked", help="Phone numbers and e-mails in full; needs the setting "
        "export_unmasked_allowed = true. Audited.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace FILE if it exists.")] = False,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write the members of NAME at its last refresh to a CSV or Excel file: consumer_id,
    phone (masked 138****1234), other keys, gender, city, province, birthday month. Every
    export is written to the audit log."""
    from siyu.audience.export import check_target, export
    from siyu.cli.app import open_workspace
    from siyu.ops.audit import cli_actor

    check_target(out_file, force)  # a bad target fails before any work
    ws = open_workspace(home)
    try:
        got = export(ws, name, out_file, unmasked=unmasked, force=force, actor=cli_actor())
    finally:
        ws.close()
    if as_json:
        emit_json(got)
    else:
        masked = tr("手机号已打码", "phones masked") if got["masked"] else tr(
            "未打码", "UNMASKED")
        out.print(tr("已导出 {n:,} 行到 {f}（{m}）", "exported {n:,} rows to {f} ({m})",
                     n=got["rows"], f=got["out"], m=masked), markup=False)


@audience_app.command("index")
def index_cmd(
    as_of: AsOfOpt = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Build the bitmap index that makes counts instant (also built at the end of
    `siyu tag compute`): one roaring bitmap per tier, RFM segment, decile, attribute value,
    tag and saved audience, the recency of each consumer's latest events, and a map of
    every key to its consumer, under <home>/index/."""
    from siyu.audience.index import build_index
    from siyu.cli.app import err
    from siyu.cli.metrics_cmds import open_metrics_workspace

    day = _as_of(as_of)
    ws = open_metrics_workspace(home)
    try:
        if as_json or not err.is_terminal:
            got = build_index(ws, day)
        else:
            with err.status(tr("构建索引…", "building the index…")) as status:
                got = build_index(ws, day, progress=lambda s: status.update(
                    tr("构建索引：{s}", "building the index: {s}", s=s)))
    finally:
        ws.close()
    if as_json:
        emit_json(got)
        return
    out.print(tr("索引（截至 {d}）：{c:,} 人，{b:,} 个位图，{kb:,} KB，{s:.1f} 秒",
                 "index as of {d}: {c:,} consumers, {b:,} bitmaps, {kb:,} KB, {s:.1f} s",
                 d=got["as_of"], c=got["consumers"], b=got["bitmaps"],
                 kb=got["bytes"] // 1024, s=got["ms"] / 1000))
    if got["skipped"]:
        out.print(tr("未建（表缺失）：{s}", "not built (table missing): {s}",
                     s=", ".join(got["skipped"])), markup=False)
