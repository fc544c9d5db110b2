"""``siyu tag …``: tags (PRODUCT.md C5) — compute, why, list, manual set/unset/import, and the
chat-scenario evaluation. Thin adapters over :mod:`siyu.tags`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table as RichTable

from siyu.cli.app import HomeOpt, JsonOpt, app, emit_json, out
from siyu.i18n import tr

tag_app = typer.Typer(help="Tags 标签: manual, rule, model and text tags (chat scenarios) in "
                           "tag groups; definitions in <workspace>/tags.yaml.",
                      no_args_is_help=True)
app.add_typer(tag_app, name="tag")


@tag_app.command("eval")
def eval_cmd(
    dataset: Annotated[Path | None, typer.Option(
        "--dataset", metavar="FILE", help="A JSONL file of {id, text, labels, split} [default: "
        "the shipped set of hand-written messages].", show_default=False)] = None,
    lexicon: Annotated[Path | None, typer.Option(
        "--lexicon", metavar="FILE", help="A brand lexicon (TOML) merged over the built-in "
        "one.", show_default=False)] = None,
    as_json: JsonOpt = False,
) -> None:
    """Precision and recall of the chat-scenario detector per scenario, on the whole set and
    on its holdout split (messages written after the lexicon was last changed)."""
    from siyu.tags.text import evaluate, load_lexicon

    rep = evaluate(dataset, load_lexicon(lexicon) if lexicon else None)
    if as_json:
        rep = {k: v for k, v in rep.items() if k != "errors"} | {"errors": len(rep["errors"])}
        emit_json(rep)
        return
    t = RichTable(title=tr(f"聊天场景识别评估（{rep['messages']} 条）",
                           f"chat scenario evaluation ({rep['messages']} messages)"))
    for c in (tr("场景", "scenario"), tr("准确率 P", "precision"), tr("召回率 R", "recall"),
              tr("样本 n", "support"), tr("保留集 P", "holdout P"),
              tr("保留集 R", "holdout R")):
        t.add_column(c, justify="right")
    hold = rep["splits"].get("holdout", {}).get("scenarios", {})
    for name, m in rep["scenarios"].items():
        h = hold.get(name, {})
        t.add_row(name, f"{m['precision']:.2f}", f"{m['recall']:.2f}", str(m["support"]),
                  f"{h.get('precision', float('nan')):.2f}", f"{h.get('recall', float('nan')):.2f}")
    out.print(t)
    for origin, o in rep.get("origins", {}).items():  # messages of one source, e.g. blind_v2
        m = o["micro"]
        out.print(tr(f"其中来源 {origin}（{o['messages']} 条）：P {m['precision']:.2f} / R "
                     f"{m['recall']:.2f}",
                     f"of which origin {origin} ({o['messages']} messages): P "
                     f"{m['precision']:.2f} / R {m['recall']:.2f}"))


KeyArg = Annotated[str, typer.Argument(
    metavar="KEY", help="A consumer key (phone:138…, wecom:…, member:…) or consumer id.")]
TagArg = Annotated[str, typer.Argument(metavar="TAG", help="The tag's name.")]


def _day(text: str | None):
    from datetime import date

    from siyu.errors import UsageError

    if text is None:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(tr("--as-of 无法识别的日期 {t}：应写作 2025-03-31",
                            "--as-of: cannot read date {t!r}: expected 2025-03-31",
                            t=text)) from None


def _resolved_workspace(home):
    from siyu.cli.metrics_cmds import open_metrics_workspace

    return open_metrics_workspace(home)


@tag_app.command("compute")
def compute_cmd(
    as_of: Annotated[str | None, typer.Option(
        "--as-of", metavar="DATE", help="Compute at the end of this brand-local day "
        "[default: today].", show_default=False)] = None,
    only: Annotated[str | None, typer.Option(
        "--only", metavar="KIND", help="Refresh only this kind (rule, model, text, manual); "
        "the other kinds' values are kept unless their definition is new or changed.",
        show_default=False)] = None,
    index: Annotated[bool, typer.Option(
        "--index/--no-index", help="Rebuild the bitmap index of instant audience counts "
        "for the same day afterwards (`siyu audience index`).")] = True,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Refresh rule, model and text tags (manual tags are read, never overwritten) into the
    warehouse table tag_values, swapped in whole, then rebuild the audience bitmap index;
    prints the consumers per tag."""
    from siyu.cli.progress import count_progress
    from siyu.tags.compute import compute

    day = _day(as_of)
    ws = _resolved_workspace(home)
    try:
        with count_progress(tr("计算标签", "computing tags"), 1, enabled=not as_json) as bar:
            got = compute(ws, as_of=day, only=only, progress=bar, index=index)
    finally:
        ws.close()
    if as_json:
        emit_json(got)
        return
    t = RichTable(title=tr(f"标签（截至 {got['as_of']}）", f"tags (as of {got['as_of']})"))
    for c in (tr("标签组", "group"), tr("标签", "tag"), tr("类型", "kind"),
              tr("人数", "consumers"), tr("状态", "status")):
        t.add_column(c)
    for r in got["tags"]:
        status = r["status"] if r["status"] == "ok" else f"{r['status']}: {r.get('reason', '')}"
        t.add_row(r["group"], r["tag"], r["kind"], f"{r['consumers']:,}", status)
    out.print(t)
    if got.get("index"):
        ix = got["index"]
        out.print(tr("人群索引已重建：{n:,} 人，{b:,} 个位图，{ms:,.0f} ms",
                     "audience index rebuilt: {n:,} consumers, {b:,} bitmaps, {ms:,.0f} ms",
                     n=ix["consumers"], b=ix["bitmaps"], ms=ix["ms"]))


@tag_app.command("list")
def list_cmd(home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """Tag groups and their tags: kind, definition and consumers at the last compute."""
    from siyu.cli.app import open_workspace
    from siyu.tags.service import list_tags

    ws = open_workspace(home)
    try:
        got = list_tags(ws)
    finally:
        ws.close()
    if as_json:
        emit_json(got)
        return
    t = RichTable(title=tr("标签", "tags") + (f" ({got['as_of']})" if got["as_of"] else ""))
    for c in (tr("标签组", "group"), tr("标签", "tag"), tr("类型", "kind"), tr("定义", "definition"),
              tr("人数", "consumers")):
        t.add_column(c)
    for g in got["groups"]:
        for r in g["tags"]:
            n = "—" if r["consumers"] is None else f"{r['consumers']:,}"
            t.add_row(g["group"], r["tag"], r["kind"], r["definition"], n)
    out.print(t, markup=False)


@tag_app.command("why")
def why_cmd(key: KeyArg, tag: TagArg, home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """Why a consumer carries TAG (or not): the rule, its version and computed time, and the
    facts that met it (counted events, tier and period, chat hits), or who set it by hand."""
    from siyu.tags.service import why

    ws = _resolved_workspace(home)
    try:
        got = why(ws, key, tag)
    finally:
        ws.close()
    if as_json:
        emit_json(got)
        return
    from siyu.cli.tag_why import print_why

    print_why(got)


@tag_app.command("set")
def set_cmd(
    key: KeyArg, tag: TagArg,
    value: Annotated[str | None, typer.Option("--value", metavar="V",
                                              help="The tag's value.")] = None,
    group: Annotated[str | None, typer.Option(
        "--group", metavar="G", help="The tag group of a tag no definition declares "
        "[default: manual].", show_default=False)] = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Give a consumer a manual tag (kept in the operational store; `siyu tag compute` copies
    it into tag_values and never overwrites it)."""
    from siyu.ops.audit import cli_actor
    from siyu.tags.manual import set_tag

    ws = _resolved_workspace(home)
    try:
        got = set_tag(ws, key, tag, value, group, actor=cli_actor())
    finally:
        ws.close()
    if as_json:
        emit_json(got)
    else:
        out.print(tr(f"已为 {got['consumer_id']} 设置标签 {tag}（组 {got['group']}）；运行 "
                     "`siyu tag compute` 后生效于人群",
                     f"set tag {tag!r} (group {got['group']!r}) on {got['consumer_id']}; "
                     "audiences see it after `siyu tag compute`"), markup=False)


@tag_app.command("unset")
def unset_cmd(key: KeyArg, tag: TagArg, home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """Remove a manual tag from a consumer."""
    from siyu.ops.audit import cli_actor
    from siyu.tags.manual import unset_tag

    ws = _resolved_workspace(home)
    try:
        got = unset_tag(ws, key, tag, actor=cli_actor())
    finally:
        ws.close()
    if as_json:
        emit_json(got)
    else:
        out.print(tr(f"已移除 {got['consumer_id']} 的标签 {tag}",
                     f"removed tag {tag!r} from {got['consumer_id']}"), markup=False)


@tag_app.command("import")
def import_cmd(
    file: Annotated[Path, typer.Argument(metavar="FILE.csv", help="Rows key,tag[,value][,group] "
                                         "(UTF-8; a header row is optional).")],
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Load manual tags from a CSV file; each bad row is rejected with its line, column and
    reason (written to rejects/), the good rows still load."""
    from siyu.ops.audit import cli_actor
    from siyu.tags.manual import import_csv

    ws = _resolved_workspace(home)
    try:
        got = import_csv(ws, file, actor=cli_actor()).as_dict()
    finally:
        ws.close()
    if as_json:
        emit_json(got)
        return
    out.print(tr(f"读取 {got['read']} 行，载入 {got['loaded']}，拒绝 {got['rejected']}",
                 f"read {got['read']} rows, loaded {got['loaded']}, rejected "
                 f"{got['rejected']}"), markup=False)
    for r in got["rejects"]:
        out.print(tr(f"  第 {r['line']} 行，{r['column']}：{r['reason']}",
                     f"  line {r['line']}, {r['column']}: {r['reason']}"), markup=False)
    if got["rejects_file"]:
        out.print(tr(f"拒绝明细：{got['rejects_file']}", f"rejects: {got['rejects_file']}"),
                  markup=False)
