"""``siyu channels …``, ``siyu outbox …`` and ``siyu dispatch``: thin adapters over
:mod:`siyu.channels` (PRODUCT.md C8; docs/channels.md)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table as RichTable

from siyu.cli.app import HomeOpt, JsonOpt, app, emit_json, out, report_check
from siyu.i18n import tr

channels_app = typer.Typer(help="Channels 渠道: test a channel, load WeCom callback events.",
                           no_args_is_help=True)
outbox_app = typer.Typer(help="The outbox 发送队列: list, drain, retry dead letters.",
                         no_args_is_help=True)
app.add_typer(channels_app, name="channels")
app.add_typer(outbox_app, name="outbox")


def _ops_workspace(home: Path | None):
    """The workspace with only the operational store brought up to date: the dispatcher does
    not need the warehouse, so it runs beside `siyu serve`."""
    from siyu.workspace import Workspace

    ws = Workspace.open(home)
    ws.ops.upgrade()
    return ws


@channels_app.command("list")
def list_cmd(as_json: JsonOpt = False) -> None:
    """The channels siyu can deliver through."""
    from siyu.channels.base import CHANNELS, channel_names

    names = channel_names()
    if as_json:
        emit_json({"channels": [{"name": n, "idempotent": CHANNELS[n].idempotent}
                                for n in names]})
        return
    for n in names:
        out.print(n, markup=False)


@channels_app.command("test")
def test_cmd(
    channel: Annotated[str, typer.Argument(help="Channel name (see `siyu channels list`).")],
    to: Annotated[str | None, typer.Option("--to", help="Recipient [default: the "
                  "channel_test_recipients setting].", show_default=False)] = None,
    guide: Annotated[str | None, typer.Option("--guide", help="WeCom userid of the sending "
                     "guide (WeCom channels).", show_default=False)] = None,
    template: Annotated[str | None, typer.Option("--template", help="Template id "
                        "(official_account, miniprogram, sms).", show_default=False)] = None,
    param: Annotated[list[str] | None, typer.Option("--param", help="Template parameter "
                     "(repeatable).", show_default=False)] = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Send one test message through CHANNEL and report each step (exit 1 if it fails)."""
    from siyu.channels.probe import probe

    ws = _ops_workspace(home)
    try:
        got = probe(ws, channel, recipient=to, guide=guide, template=template,
                    params=param or [])
    finally:
        ws.close()
    if as_json:
        emit_json(got.as_json())
    else:
        for s in got.steps:
            mark = "[green]✔[/green]" if s["ok"] else "[red]✘[/red]"
            out.print(f"{mark} {s['label']}: ", end="")
            out.print(s["detail"], markup=False)
    if not got.ok:
        raise typer.Exit(1)


@channels_app.command("flush")
def flush_cmd(
    resolve: Annotated[bool, typer.Option(
        "--resolve", help="Then run OneID (`siyu identity resolve`) when rows were loaded, so "
        "journeys see customers who are new to siyu.")] = False,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Load stored WeCom callback events into the warehouse (`siyu serve` does this itself).
    A customer new to siyu gets a consumer id, and so enters journeys, at the next OneID run."""
    from siyu.channels.wecom.events import flush_inbound
    from siyu.cli.app import open_workspace

    ws = open_workspace(home)
    oneid = None
    try:
        got = flush_inbound(ws)
        if resolve and got.imported:
            from siyu.identity import resolve as resolve_ids

            oneid = resolve_ids(ws)
    finally:
        ws.close()
    if as_json:
        emit_json({**got.as_json(), "oneid": None if oneid is None else {
            "run_id": oneid.run_id, "consumers": oneid.consumers,
            "new_consumers": oneid.new_consumers}})
        return
    out.print(tr("回调事件 {e} 条：导入 {i}，忽略 {g}，失败 {f}",
                 "{e} callback events: {i} imported, {g} ignored, {f} failed",
                 e=got.events, i=got.imported, g=got.ignored, f=got.failed))
    if oneid is not None:
        out.print(tr("OneID 已更新：消费者 {c}，新增 {n}", "OneID updated: {c} consumers, {n} new",
                     c=oneid.consumers, n=oneid.new_consumers))


welcome_app = typer.Typer(help="Welcome messages 欢迎语 sent from WeCom add-contact "
                          "callbacks: check the rules file.", no_args_is_help=True)
channels_app.add_typer(welcome_app, name="welcome")


def _welcome_file(file: Path | None, home: Path | None) -> Path:
    if file is not None:
        return file
    from siyu.channels.wecom.welcome import rules_path
    from siyu.workspace import Workspace

    return rules_path(Workspace.open(home))


@welcome_app.command("validate")
def welcome_validate(
    file: Annotated[Path | None, typer.Argument(metavar="[FILE]", help="A welcome rules file "
                    "[default: the workspace's, setting wecom_welcome_file].",
                    show_default=False)] = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Check welcome rules: every problem with its line and reason (exit code 2 if any)."""
    from siyu.channels.wecom.welcome import validate_text
    from siyu.yamlfile import read_text

    path = _welcome_file(file, home)
    rules, problems = validate_text(read_text(path))
    valid = "" if problems else tr(
        "{f}：有效（规则 {n} 条，{d}）", "{f}: valid ({n} rules, {d})", f=path,
        n=len(rules.rules), d=tr("有默认欢迎语", "with a default") if rules.default
        else tr("无默认欢迎语", "no default"))
    report_check(path, problems, as_json, valid, rules=len(rules.rules) if rules else 0,
                 default=bool(rules and rules.default))


@welcome_app.command("match")
def welcome_match(
    state: Annotated[str, typer.Option("--state", help="The callback's State (渠道活码).")] = "",
    guide: Annotated[str, typer.Option("--guide", help="The guide's WeCom UserID.")] = "",
    file: Annotated[Path | None, typer.Option("--file", help="A welcome rules file [default: "
                    "the workspace's].", show_default=False)] = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Which rule an add-contact callback with STATE and GUIDE gets, and the welcome it
    sends (exit code 1 when none)."""
    from siyu.channels.wecom.welcome import parse_rules
    from siyu.config import Settings
    from siyu.errors import SiyuError
    from siyu.workspace import Workspace

    try:
        brand = Workspace.open(home).settings.brand_name
    except SiyuError:  # a file checked outside a workspace: the default brand name
        if file is None:
            raise
        brand = Settings().brand_name
    path = file or _welcome_file(None, home)
    try:
        rules = parse_rules(path.read_text(encoding="utf-8"), str(path))
    except FileNotFoundError:
        from siyu.errors import UsageError

        raise UsageError(tr("找不到文件 {p}", "no such file: {p}", p=path)) from None
    rule = rules.match(state, guide)
    got = None if rule is None else rules.render(rule, guide, brand)
    if as_json:
        emit_json({"rule": rule.name if rule else None, "payload": got})
    elif got is None:
        out.print(tr("无匹配规则且无默认欢迎语：不发送", "no rule matches and no default: "
                     "nothing is sent"))
    else:
        out.print(tr("规则：{r}", "rule: {r}", r=rule.name), markup=False)
        if got.get("text"):
            out.print(got["text"], markup=False)
        for a in got.get("attachments", []):
            out.print(f"[{a['msgtype']}] " + ", ".join(f"{k}={v}" for k, v in
                                                       a[a["msgtype"]].items()), markup=False)
    if got is None:
        raise typer.Exit(1)


def _local(t, zone) -> str:
    """A stored instant (UTC; naive from SQLite) in the brand's zone."""
    from datetime import UTC

    if t is None:
        return ""
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return f"{t.astimezone(zone):%Y-%m-%d %H:%M:%S}"


@outbox_app.command("list")
def outbox_list(
    status: Annotated[str | None, typer.Option("--status", help="pending | sending | sent | "
                      "failed | dead", show_default=False)] = None,
    channel: Annotated[str | None, typer.Option("--channel", show_default=False)] = None,
    limit: Annotated[int, typer.Option("--limit", min=1)] = 50,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The latest outbox rows and the counts per channel and status (no recipients or text)."""
    from siyu.channels.outbox import counts, list_rows

    ws = _ops_workspace(home)
    try:
        rows, totals = list_rows(ws, status, channel, limit), counts(ws)
        zone = ws.settings.zone
    finally:
        ws.close()
    if as_json:
        emit_json({"counts": totals, "rows": rows})
        return
    t = RichTable(title=tr("发送队列（品牌时区 {z}）", "outbox (brand time, {z})", z=zone.key),
                  title_justify="left")
    for h in ("id", tr("渠道", "channel"), tr("状态", "status"), tr("次数", "attempts"),
              tr("发送 / 下次尝试", "sent / next attempt"), tr("错误", "last error")):
        t.add_column(h)
    for r in rows:
        when = (r["sent_at"] if r["status"] == "sent" else
                None if r["status"] == "dead" else r["next_attempt_at"])  # dead: no next try
        t.add_row(str(r["id"]), r["channel"], r["status"], str(r["attempts"]),
                  _local(when, zone), (r["last_error"] or "")[:60])
    out.print(t)
    for ch, st in sorted(totals.items()):
        out.print(f"{ch}: " + ", ".join(f"{k} {v}" for k, v in sorted(st.items())),
                  markup=False)


@outbox_app.command("retry")
def outbox_retry(ids: Annotated[list[int], typer.Argument(help="Outbox ids.")],
                 home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """Put dead or failed messages back in the queue (also resends an in-doubt message)."""
    from siyu.channels.outbox import retry
    from siyu.ops.audit import cli_actor, record

    ws = _ops_workspace(home)
    try:
        n = retry(ws, ids)
        record(ws.ops, cli_actor(), "outbox_retry", ",".join(map(str, ids))[:200], {"n": n})
    finally:
        ws.close()
    if as_json:
        emit_json({"requeued": n})
    else:
        out.print(tr("已重新排队 {n} 条", "{n} requeued", n=n))


def _drain_once(ws, limit: int | None, as_json: bool):
    from rich.progress import Progress, SpinnerColumn, TextColumn

    from siyu.channels.dispatcher import drain

    if as_json:
        return drain(ws, limit=limit)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), transient=True,
                  console=out) as p:
        p.add_task(tr("正在发送…", "sending…"))
        return drain(ws, limit=limit)


def _print(got) -> None:
    out.print(tr("领取 {c}，已发送 {s}，重试 {r}，死信 {d}，延后 {f}（{t:.1f} 秒）",
                 "claimed {c}, sent {s}, retried {r}, dead {d}, deferred {f} ({t:.1f} s)",
                 c=got.claimed, s=got.sent, r=got.retried, d=got.dead, f=got.deferred,
                 t=got.seconds))


@outbox_app.command("drain")
def outbox_drain(limit: Annotated[int | None, typer.Option("--limit", min=1,
                 show_default=False)] = None, home: HomeOpt = None,
                 as_json: JsonOpt = False) -> None:
    """Deliver every due message once (same as `siyu dispatch --once`)."""
    ws = _ops_workspace(home)
    try:
        got = _drain_once(ws, limit, as_json)
    finally:
        ws.close()
    emit_json(got.as_json()) if as_json else _print(got)


def _idle(ws, interval: float) -> None:
    """Wait up to ``interval`` seconds, waking every ``dispatch_wake_seconds`` to look for a
    welcome row (its WelcomeCode lives 20 s): one indexed query each time."""
    from siyu.channels.dispatcher import urgent_due

    step = min(ws.settings.dispatch_wake_seconds, interval)
    end = time.monotonic() + interval
    while time.monotonic() < end:
        time.sleep(min(step, max(end - time.monotonic(), 0.0)))
        if urgent_due(ws):
            return


@app.command("dispatch")
def dispatch_cmd(
    once: Annotated[bool, typer.Option("--once", help="One pass, then exit.")] = False,
    interval: Annotated[float, typer.Option("--interval", min=0.1,
                        help="Seconds between passes when idle.")] = 2.0,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Messages per pass.",
                     show_default=False)] = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The dispatcher: deliver due outbox messages, with retries, until stopped (Ctrl-C).
    Several may run at once; a killed one loses nothing."""
    ws = _ops_workspace(home)
    try:
        if once:
            got = _drain_once(ws, limit, as_json)
            emit_json(got.as_json()) if as_json else _print(got)
            return
        from siyu.channels.dispatcher import drain
        from siyu.channels.receipts import poll_receipts

        polled = 0.0
        while True:
            got = drain(ws, limit=limit)
            if got.claimed and not as_json:
                _print(got)
            if time.monotonic() - polled > 60:
                poll_receipts(ws)  # delivery receipts: WeCom send results, SMS status reports
                polled = time.monotonic()
            if not got.claimed:
                _idle(ws, interval)
    finally:
        ws.close()


@outbox_app.command("receipts")
def outbox_receipts(home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """Pull delivery receipts from the channels that report them on request: WeCom (which
    mass-send messages the guides sent) and SMS (carrier status reports); `siyu dispatch`
    does this every minute. Official-account receipts arrive at /callbacks/wechat."""
    from siyu.channels.receipts import poll_receipts, receipts_after

    ws = _ops_workspace(home)
    try:
        before, _ = receipts_after(ws, None)
        got = poll_receipts(ws)
        _, new = receipts_after(ws, before)
    finally:
        ws.close()
    total: dict[str, int] = {}
    for counts in got.values():
        for k, v in counts.items():
            total[k] = total.get(k, 0) + v
    if as_json:
        emit_json({"receipts": total, "by_channel": got, "new": new})
        return
    out.print(tr("新回执：{r}", "new receipts: {r}",
                 r=", ".join(f"{k} {v}" for k, v in total.items()) or "0"))
    if new:
        t = RichTable(title=tr("新回执（含回调收到的）", "new receipts (callbacks included)"),
                      title_justify="left")
        for h in ("outbox id", tr("渠道", "channel"), tr("回执", "receipt"), tr("时间", "at"),
                  tr("详情", "detail")):
            t.add_column(h)
        for r in new:
            t.add_row(str(r["outbox_id"]), r["channel"], r["status"], r["at"][:19],
                      ", ".join(f"{k}={v}" for k, v in r["detail"].items()))
        out.print(t)
