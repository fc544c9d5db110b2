"""``siyu task …`` and ``siyu guide …``: shopping-guide tasks (导购任务, PRODUCT.md C9) and
handover (离职继承). Thin adapters over :mod:`siyu.activation.tasks`, ``task_rules``,
``assignment`` and ``handover``."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from siyu.cli.app import HomeOpt, JsonOpt, app, emit_json, open_workspace, out
from siyu.errors import UsageError
from siyu.i18n import tr

task_app = typer.Typer(help="Shopping-guide tasks 导购任务: HQ rules make them, guides list and "
                            "report them done.", no_args_is_help=True)
guide_app = typer.Typer(help="Shopping guides 导购: assignment from relationships, handover of "
                             "a departing guide's customers (离职继承).", no_args_is_help=True)
app.add_typer(task_app, name="task")
app.add_typer(guide_app, name="guide")

AtOpt = Annotated[str | None, typer.Option(
    "--at", metavar="TIME", help="The instant to look from (2025-03-01 = start of that brand-"
    "local day, or 2025-03-01T10:00) [default: now].", show_default=False)]
GuideOpt = Annotated[str | None, typer.Option("--guide", metavar="G", help="One guide's tasks.",
                                              show_default=False)]
StoreOpt = Annotated[str | None, typer.Option("--store", metavar="S", help="One store's tasks.",
                                              show_default=False)]
IdArg = Annotated[str, typer.Argument(metavar="ID", help="A task id (see `siyu task list`).")]


def _at(ws, text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    from siyu.activation.clock import parse_instant

    return parse_instant(text, ws.settings.zone, "--at")


def _fmt_time(t: datetime | None, zone) -> str:
    return "" if t is None else t.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime | date) else v) for k, v in d.items()}


@contextmanager
def _rule_progress(enabled: bool):
    """A ``(rule, done, total)`` callback drawing one bar per rule (stderr terminals only)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from siyu.cli.app import err

    if not enabled or not err.is_terminal:
        yield None
        return
    bars = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    console=err)
    ids: dict[str, Any] = {}

    def update(rule: str, done: int, total: int) -> None:
        if rule not in ids:
            ids[rule] = bars.add_task(rule, total=total)
        bars.update(ids[rule], completed=done)

    with bars:
        yield update


# -- siyu task … ----------------------------------------------------------------------------------

@task_app.command("generate")
def generate_cmd(
    as_of: Annotated[str | None, typer.Option(
        "--as-of", metavar="DATE", help="The brand-local day to run the rules for (tasks are "
        "created at its start) [default: today, now].", show_default=False)] = None,
    rules: Annotated[Path | None, typer.Option(
        "--rules", metavar="FILE", help="Rules file [default: the workspace's task_rules.yaml, "
        "else the shipped rules].", show_default=False)] = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run the HQ task rules for a day: refresh assignments from the warehouse, expire stale
    tasks, create each rule's tasks (running a day twice adds nothing)."""
    from siyu.activation.task_rules import generate, load_rules

    ws = open_workspace(home)
    try:
        rule_list, path = load_rules(rules, ws.home)
        if as_of is not None:
            try:
                day = date.fromisoformat(as_of.strip())
            except ValueError:
                raise UsageError(tr("--as-of 无法识别的日期 {t}：应写作 2025-03-31",
                                    "--as-of: cannot read date {t!r}: expected 2025-03-31",
                                    t=as_of)) from None
            from siyu.activation.tasks import local_midnight

            now = local_midnight(day, ws.settings.zone)
        else:
            now = datetime.now(UTC)
            day = now.astimezone(ws.settings.zone).date()
        with _rule_progress(enabled=not as_json) as progress:
            got = generate(ws, rule_list, day, now=now, progress=progress)
    finally:
        ws.close()
    got["rules_file"] = str(path)
    if as_json:
        emit_json(got)
        return
    t = Table(title=tr(f"{got['day']} 的任务规则", f"task rules for {got['day']}"))
    for c in (tr("规则", "rule"), tr("选中", "selected"), tr("新建", "created"),
              tr("已有", "existing")):
        t.add_column(c, justify="left" if c in ("规则", "rule") else "right")
    for r in got["rules"]:
        t.add_row(r["rule"], f"{r['selected']:,}", f"{r['created']:,}", f"{r['existing']:,}")
    out.print(t)
    out.print(tr(f"过期任务：{got['expired']:,}", f"tasks expired: {got['expired']:,}"))


@task_app.command("rules")
def rules_cmd(
    rules: Annotated[Path | None, typer.Option(
        "--rules", metavar="FILE", help="Rules file to check [default: the workspace's "
        "task_rules.yaml, else the shipped rules].", show_default=False)] = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Check a task rules file and list its rules."""
    from siyu.activation.task_rules import load_rules

    base = None
    if rules is None:
        from siyu.workspace import find_home

        try:
            base = find_home(home)
        except Exception:  # no workspace: the shipped rules
            base = None
    got, path = load_rules(rules, base)
    rows = [{"name": r.name, "title": r.title, "kind": r.kind, "when": r.when,
             "due_days": r.due_days, "audience": r.audience, "enabled": r.enabled}
            for r in got]
    if as_json:
        emit_json({"rules_file": str(path), "rules": rows})
        return
    t = Table(title=str(path))
    for c in ("name", "title", "kind", "when", "audience"):
        t.add_column(c)
    for r in rows:
        when = ", ".join(f"{k}={v}" for k, v in r["when"].items())
        t.add_row(r["name"], r["title"], r["kind"], when, r["audience"] or "")
    out.print(t)


@task_app.command("list")
def list_cmd(
    guide: GuideOpt = None,
    store: StoreOpt = None,
    unassigned: Annotated[bool, typer.Option("--unassigned", help="Tasks waiting in the "
                                             "unassigned pool.")] = False,
    status: Annotated[str | None, typer.Option(
        "--status", metavar="S", help="open, done, skipped or expired [default: all].",
        show_default=False)] = None,
    waiting: Annotated[bool, typer.Option("--waiting", help="Include open tasks not yet "
                                          "available (invitations over the daily limit).")]
    = False,
    at: AtOpt = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many.")] = 200,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A guide's (or store's) tasks by due time; --json: {"tasks": [...], "count"}."""
    from siyu.activation.tasks import list_tasks

    ws = open_workspace(home, ensure=False)
    try:
        ws.ops.upgrade()
        now = _at(ws, at)
        rows = list_tasks(ws.ops, guide=guide, store=store, status=status,
                          unassigned=unassigned, now=now, waiting=waiting, limit=limit)
        zone = ws.settings.zone
    finally:
        ws.close()
    if as_json:
        emit_json({"tasks": [_jsonable(r) for r in rows], "count": len(rows)})
        return
    if not rows:
        out.print(tr("没有任务", "no tasks"))
        return
    t = Table()
    t.add_column("id", no_wrap=True)
    for c in (tr("导购", "guide"), tr("顾客", "consumer"), tr("类型", "kind"),
              tr("标题", "title"), tr("截止", "due"), tr("状态", "status")):
        t.add_column(c)
    for r in rows:
        st = r["status"] + (tr("（逾期）", " (overdue)") if r["overdue"] else "")
        t.add_row(r["task_id"], r["guide_id"] or "—", r["consumer_id"], r["kind"], r["title"],
                  _fmt_time(r["due_at"], zone), st)
    out.print(t)


@task_app.command("show")
def show_cmd(task_id: IdArg, home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """One task with its script and history (--json: the task with "history")."""
    from siyu.activation.tasks import get_task, history

    ws = open_workspace(home, ensure=False)
    try:
        ws.ops.upgrade()
        task = get_task(ws.ops, task_id)
        task["history"] = [_jsonable(e) for e in history(ws.ops, task_id)]
        zone = ws.settings.zone
    finally:
        ws.close()
    if as_json:
        emit_json(_jsonable(task))
        return
    out.print(f"[bold]{task['title']}[/bold]  {task['task_id']}  ({task['status']})")
    out.print(tr(f"导购 {task['guide_id'] or '—'} · 顾客 {task['consumer_id']} · 截止 "
                 f"{_fmt_time(task['due_at'], zone)}",
                 f"guide {task['guide_id'] or '—'} · consumer {task['consumer_id']} · due "
                 f"{_fmt_time(task['due_at'], zone)}"), markup=False)
    if task["script"]:
        out.print(task["script"], markup=False)
    if task["result"]:
        out.print(tr("结果：", "result: ") + task["result"], markup=False)
    for e in task["history"]:
        out.print(f"  {e['at'][:16]}  {e['event']}  {e['guide_id'] or ''}", markup=False)


def _closed(task: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(_jsonable(task))
    else:
        out.print(tr(f"任务 {task['task_id']}：{task['status']}",
                     f"task {task['task_id']}: {task['status']}"))


@task_app.command("done")
def done_cmd(
    task_id: IdArg,
    result: Annotated[str | None, typer.Option("--result", metavar="TEXT",
                                               help="What came of it (free text).")] = None,
    at: AtOpt = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Report an open task done, with its result."""
    from siyu.activation.tasks import complete
    from siyu.ops.audit import cli_actor

    ws = open_workspace(home, ensure=False)
    try:
        ws.ops.upgrade()
        task = complete(ws.ops, task_id, result, now=_at(ws, at), actor=cli_actor())
    finally:
        ws.close()
    _closed(task, as_json)


@task_app.command("skip")
def skip_cmd(
    task_id: IdArg,
    reason: Annotated[str, typer.Option("--reason", metavar="TEXT",
                                        help="Why it is not done (required).")],
    at: AtOpt = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Skip an open task, with a reason."""
    from siyu.activation.tasks import skip
    from siyu.ops.audit import cli_actor

    ws = open_workspace(home, ensure=False)
    try:
        ws.ops.upgrade()
        task = skip(ws.ops, task_id, reason, now=_at(ws, at), actor=cli_actor())
    finally:
        ws.close()
    _closed(task, as_json)


@task_app.command("stats")
def stats_cmd(
    guide: GuideOpt = None,
    store: StoreOpt = None,
    by: Annotated[str, typer.Option("--by", metavar="guide|store",
                                    help="One row per guide or per store.")] = "guide",
    at: AtOpt = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Open, done, skipped, expired and overdue tasks and the completion rate (done ÷ tasks
    whose time has come) per guide or store; --json: {"rows": [...]}."""
    from siyu.activation.tasks import stats

    ws = open_workspace(home, ensure=False)
    try:
        ws.ops.upgrade()
        rows = stats(ws.ops, by=by, guide=guide, store=store, now=_at(ws, at))
    finally:
        ws.close()
    if as_json:
        emit_json({"by": by, "rows": rows})
        return
    t = Table()
    cols = (by, "open", "waiting", "done", "skipped", "expired", "overdue", "completion_rate")
    heads = {"guide": tr("导购", "guide"), "store": tr("门店", "store"),
             "open": tr("进行中", "open"), "waiting": tr("待开始", "waiting"),
             "done": tr("已完成", "done"), "skipped": tr("已跳过", "skipped"),
             "expired": tr("已过期", "expired"), "overdue": tr("逾期", "overdue"),
             "completion_rate": tr("完成率", "completion")}
    for c in cols:
        t.add_column(heads.get(c, c), justify="left" if c == by else "right")
    for r in rows:
        rate = "—" if r["completion_rate"] is None else f"{r['completion_rate']:.1%}"
        t.add_row(str(r[by] or "—"), *(f"{r[c]:,}" for c in cols[1:-1]), rate)
    out.print(t)


# -- siyu guide … ---------------------------------------------------------------------------------

@guide_app.command("sync")
def sync_cmd(at: AtOpt = None, home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """Copy the guide roster and who holds each consumer from the warehouse into the
    operational store (task assignment reads it; `siyu task generate` does this first)."""
    from siyu.activation.assignment import refresh

    ws = open_workspace(home)
    try:
        got = refresh(ws, _at(ws, at))
    finally:
        ws.close()
    if as_json:
        emit_json(got)
    else:
        out.print(tr(f"导购 {got['guides']:,} 位；顾客 {got['consumers']:,} 位，其中 "
                     f"{got['held']:,} 位有专属导购",
                     f"{got['guides']:,} guides; {got['consumers']:,} consumers, "
                     f"{got['held']:,} with a guide"))


@guide_app.command("handover")
def handover_cmd(
    from_guide: Annotated[str, typer.Argument(metavar="FROM", help="The departing guide.")],
    to_guide: Annotated[str, typer.Argument(metavar="TO", help="The guide who takes over.")],
    at: AtOpt = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """离职继承: move every customer and open task of FROM to TO, keeping history."""
    from siyu.activation.assignment import refresh
    from siyu.activation.handover import handover
    from siyu.ops.audit import cli_actor

    ws = open_workspace(home)
    try:
        now = _at(ws, at)
        refresh(ws, now)
        got = handover(ws, from_guide, to_guide, actor=cli_actor(), now=now)
    finally:
        ws.close()
    if as_json:
        emit_json(got)
    else:
        out.print(tr(f"已将导购 {from_guide} 的 {got['consumers']:,} 位顾客和 {got['tasks']:,} "
                     f"个未完成任务交接给 {to_guide}（{got['handover_id']}）",
                     f"handed {got['consumers']:,} customers and {got['tasks']:,} open tasks "
                     f"of guide {from_guide} over to {to_guide} ({got['handover_id']})"))


@guide_app.command("handovers")
def handovers_cmd(guide: GuideOpt = None, home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """Recorded handovers, newest first (--json: {"handovers": [...]})."""
    from siyu.activation.handover import handovers

    ws = open_workspace(home, ensure=False)
    try:
        ws.ops.upgrade()
        rows = handovers(ws.ops, guide)
        zone = ws.settings.zone
    finally:
        ws.close()
    if as_json:
        emit_json({"handovers": [_jsonable(r) for r in rows]})
        return
    for r in rows:
        out.print(f"{_fmt_time(r['at'].replace(tzinfo=r['at'].tzinfo or UTC), zone)}  "
                  f"{r['from_guide']} → {r['to_guide']}  {r['consumers']:,} / {r['tasks']:,}  "
                  f"{r['handover_id']}", markup=False)


# -- siyu journey templates -------------------------------------------------------------------
# (registered here, beside the other C9 commands, on the journey group of journey_cmds)

def _register_templates() -> None:
    from siyu.cli.journey_cmds import journey_app

    @journey_app.command("templates")
    def templates_cmd(
        name: Annotated[str | None, typer.Argument(
            metavar="[NAME]", help="Print only this template's file path (for `siyu journey "
            "deploy`).", show_default=False)] = None,
        as_json: JsonOpt = False,
    ) -> None:
        """The ten ready journeys of DOMAIN §13 and their files: deploy one with
        `siyu journey deploy "$(siyu journey templates NAME)"`."""
        import yaml

        from siyu.activation import templates

        if name is not None:
            p = templates.path(name)
            if as_json:
                emit_json({"name": name, "path": str(p)})
            else:
                out.print(str(p), markup=False, soft_wrap=True)
            return
        rows = []
        for n in templates.names():
            doc = yaml.safe_load(templates.path(n).read_text(encoding="utf-8"))
            rows.append({"name": n, "title": doc.get("title"),
                         "description": doc.get("description"),
                         "trigger": "+".join(str((t or {}).get("type")) for t in (
                             doc.get("triggers") or [doc.get("trigger")])),
                         "path": str(templates.path(n))})
        if as_json:
            emit_json({"templates": rows})
            return
        t = Table()
        for c in ("name", tr("标题", "title"), tr("触发", "trigger"), tr("说明", "description")):
            t.add_column(c)
        for r in rows:
            t.add_row(r["name"], r["title"], r["trigger"], r["description"])
        out.print(t)


_register_templates()
