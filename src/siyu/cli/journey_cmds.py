"""``siyu journey …``, ``siyu run --until``, ``siyu worker`` and ``siyu consent …``: thin
adapters over :mod:`siyu.activation` (journeys, the engine, consent; docs/journeys.md)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table as RichTable

from siyu.cli.app import HomeOpt, JsonOpt, app, emit_json, out, report_check
from siyu.errors import UsageError
from siyu.i18n import tr
from siyu.yamlfile import read_text

journey_app = typer.Typer(help="Journeys 自动化旅程 (SOP): validate, deploy, pause, resume, "
                               "stats. Format: docs/journeys.md.", no_args_is_help=True)
app.add_typer(journey_app, name="journey")
consent_app = typer.Typer(help="Consent 授权 by purpose and channel (DOMAIN §12): revoke, "
                               "grant, show. Every change is audited.", no_args_is_help=True)
app.add_typer(consent_app, name="consent")

NameArg = Annotated[str, typer.Argument(metavar="NAME", help="The journey's name.")]
FileArg = Annotated[Path, typer.Argument(metavar="FILE", help="A journey YAML file.")]


def _ops_workspace(home):
    """The workspace with its operational store migrated (the warehouse is not opened)."""
    from siyu.workspace import Workspace

    ws = Workspace.open(home)
    ws.ops.upgrade()
    return ws


@journey_app.command("validate")
def validate_cmd(file: FileArg, as_json: JsonOpt = False) -> None:
    """Check a journey file: every problem with its line and reason (exit code 2 if any)."""
    from siyu.activation.definition import validate_text

    problems = validate_text(read_text(file))
    report_check(file, problems, as_json, tr("{f}：有效", "{f}: valid", f=file))


@journey_app.command("deploy")
def deploy_cmd(file: FileArg, home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """Store FILE as the journey's next version (new enrolments use it; running ones keep
    theirs). Deploying an unchanged file does nothing."""
    from siyu.activation.store import deploy
    from siyu.ops.audit import cli_actor

    text = read_text(file)
    ws = _ops_workspace(home)
    try:
        got = deploy(ws.ops, text, actor=cli_actor(), source=str(file))
    finally:
        ws.close()
    if as_json:
        emit_json(got)
    elif got["changed"]:
        out.print(tr("已部署 {n} 版本 {v}", "deployed {n} version {v}", n=got["name"],
                     v=got["version"]), markup=False)
    else:
        out.print(tr("{n} 未变化（版本 {v}）", "{n} unchanged (version {v})", n=got["name"],
                     v=got["version"]), markup=False)


@journey_app.command("list")
def list_cmd(home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """Deployed journeys: version, status, trigger, enrolments."""
    from siyu.activation.store import list_journeys

    ws = _ops_workspace(home)
    try:
        rows = list_journeys(ws.ops)
    finally:
        ws.close()
    if as_json:
        emit_json({"journeys": rows})
        return
    t = RichTable(*[tr(zh, en) for zh, en in (("名称", "name"), ("标题", "title"),
                                              ("版本", "version"), ("状态", "status"),
                                              ("触发", "trigger"), ("进行中", "active"),
                                              ("累计进入", "entered"))])
    for r in rows:
        t.add_row(r["name"], r["title"], str(r["version"]), r["status"], r["trigger"],
                  f"{r['active']:,}", f"{r['entered']:,}")
    out.print(t)


@journey_app.command("show")
def show_cmd(name: NameArg, home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """One journey: status, versions, and the current definition."""
    from siyu.activation.store import show

    ws = _ops_workspace(home)
    try:
        got = show(ws.ops, name)
    finally:
        ws.close()
    if as_json:
        emit_json(got)
        return
    out.print(f"{got['name']} — {got['title']}  v{got['version']}  {got['status']}",
              markup=False)
    for v in got["versions"]:
        out.print(f"  v{v['version']}  {v['deployed_at']:%Y-%m-%d %H:%M}  {v['deployed_by']}",
                  markup=False)
    out.print(got["source"], markup=False)


def _set(name: str, status: str, home, as_json: bool) -> None:
    from siyu.activation.store import set_status

    ws = _ops_workspace(home)
    try:
        got = set_status(ws.ops, name, status)
    finally:
        ws.close()
    if as_json:
        emit_json(got)
    else:
        out.print(tr("{n}：{s}", "{n}: {s}", n=name, s=status), markup=False)


@journey_app.command("pause")
def pause_cmd(name: NameArg, home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """Pause a journey: no one enters and no step runs until it is resumed."""
    _set(name, "paused", home, as_json)


@journey_app.command("resume")
def resume_cmd(name: NameArg, home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """Resume a paused journey (steps that fell due meanwhile run at the next pass)."""
    _set(name, "active", home, as_json)


@journey_app.command("enrol")
def enrol_cmd(
    name: NameArg,
    consumers: Annotated[list[str], typer.Argument(
        metavar="CONSUMER...", help="Consumer ids or keys (phone:138…, wecom:…).")],
    at: Annotated[str | None, typer.Option(
        "--at", metavar="DATETIME", help="Entry time (brand time) [default: the simulated "
        "clock, else now].", show_default=False)] = None,
    home: HomeOpt = None, as_json: JsonOpt = False,
) -> None:
    """Enrol consumers by hand (any journey; re-entry policy applies)."""
    from siyu.activation.clock import now_utc, parse_instant, sim_now
    from siyu.activation.engine import enrol_many
    from siyu.activation.store import definition, show
    from siyu.identity.keys import is_consumer_id

    ws = _ops_workspace(home)
    try:
        info = show(ws.ops, name)
        ids = []
        for c in consumers:
            if is_consumer_id(c.strip()):
                ids.append(c.strip())
            else:
                from siyu.identity.lookup import find_consumer

                ids.append(find_consumer(ws, c).consumer_ids[0])
        with ws.ops.engine.begin() as conn:
            when = (parse_instant(at, ws.settings.zone, "--at") if at else
                    sim_now(conn) or now_utc())
            j = definition(conn, name, info["version"])
            n = enrol_many(conn, j, info["version"],
                           [(cid, when, f"manual:{when.isoformat()}") for cid in ids])
    finally:
        ws.close()
    if as_json:
        emit_json({"journey": name, "requested": len(ids), "entered": n})
    else:
        out.print(tr("进入旅程 {n} 人（共 {r} 人）", "{n} of {r} entered", n=n, r=len(ids)))


@journey_app.command("stats")
def stats_cmd(name: NameArg, home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """Entered, per-step counts, sends, suppressions by reason, goal per arm and holdout
    (difference and 95 % confidence interval)."""
    from siyu.activation.measurement import stats

    ws = _ops_workspace(home)
    try:
        got = stats(ws, name)
    finally:
        ws.close()
    if as_json:
        emit_json(got)
        return
    out.print(tr("{n}：进入 {e}，进行中 {a}，完成 {d}，退出 {x}；发送 {s}",
                 "{n}: entered {e}, active {a}, done {d}, exited {x}; sent {s}",
                 n=name, e=got["entered"], a=got["active"], d=got["done"], x=got["exited"],
                 s=got["sends"]), markup=False)
    out.print(tr("失败 {f}，推迟到免打扰结束 {q}，发券 {c}，导购任务 {t}",
                 "failed {f}, deferred for quiet hours {q}, coupons {c}, guide tasks {t}",
                 f=got["failed"], q=got["deferred"], c=got["coupons"], t=got["tasks"]),
              markup=False)
    out.print(tr("各步骤执行次数：", "runs per step:"), markup=False)
    for k, v in got["steps"].items():
        out.print(f"  {k}: {v:,}", markup=False)
    for k, v in got["suppressions"].items():
        out.print(tr("  拦截 {k}：{v}", "  suppressed {k}: {v}", k=k, v=v), markup=False)
    g = got["goal"]
    if g:
        out.print(tr("目标：{d} 天内 {e}", "goal: {e} within {d} days", e=g["event"],
                     d=g["within_days"]), markup=False)
        for arm, a in g["arms"].items():
            rate = "—" if a["rate"] is None else f"{a['rate']:.1%}"
            out.print(tr("  {arm}：{c}/{n}（{r}）", "  {arm}: {c}/{n} ({r})", arm=arm,
                         c=a["converted"], n=a["enrolled"], r=rate), markup=False)
        for arm, d in (g.get("vs_holdout") or {}).items():
            if d["diff"] is not None:
                out.print(tr("  {arm} 对比对照组：{d:+.4f}，95% 置信区间 [{lo:+.4f}, {hi:+.4f}]",
                             "  {arm} vs holdout: {d:+.4f}, 95 % CI [{lo:+.4f}, {hi:+.4f}]",
                             arm=arm, d=d["diff"], lo=d["ci_low"], hi=d["ci_high"]),
                          markup=False)


def _tick(text: str) -> timedelta:
    from siyu.activation.clock import parse_duration

    d = parse_duration(text)
    if d is None or d <= timedelta(0):
        raise UsageError(tr("--tick 应写作 1d、6h 或 30m", "--tick: expected 1d, 6h or 30m"))
    return d


@app.command("run")
def run_cmd(
    until: Annotated[str, typer.Option("--until", metavar="DATETIME", help="Advance the "
                                       "simulated clock to this brand-local time.")],
    start: Annotated[str | None, typer.Option(
        "--from", metavar="DATETIME", help="Set the simulated clock here first (needed the "
        "first time).", show_default=False)] = None,
    tick: Annotated[str, typer.Option("--tick", help="One engine pass and outbox drain per "
                                      "tick of simulated time.")] = "1d",
    deliver: Annotated[bool, typer.Option(
        "--deliver/--no-deliver", help="Drain the outbox through the channels after each "
        "pass.")] = True,
    home: HomeOpt = None, as_json: JsonOpt = False,
) -> None:
    """Run the journeys on a simulated clock up to --until (demos and tests)."""
    from siyu.activation.clock import parse_instant
    from siyu.activation.runner import run_until
    from siyu.cli.progress import count_progress

    ws = _ops_workspace(home)
    zone = ws.settings.zone
    try:
        with count_progress(tr("模拟运行", "simulating"), 1, enabled=not as_json) as bar:
            got = run_until(ws, parse_instant(until, zone, "--until"),
                            start=parse_instant(start, zone, "--from") if start else None,
                            tick=_tick(tick), deliver=deliver, progress=bar)
    finally:
        ws.close()
    if as_json:
        emit_json(got)
    else:
        out.print(tr("模拟时钟到 {c}：进入 {e}，推进 {a}",
                     "simulated clock at {c}: {e} entered, {a} advanced",
                     c=f"{datetime.fromisoformat(got['clock']).astimezone(zone):%Y-%m-%d %H:%M}",
                     e=got["entered"], a=got["advanced"]), markup=False)


@app.command("worker")
def worker_cmd(
    once: Annotated[bool, typer.Option("--once", help="One pass, then exit.")] = False,
    worker_id: Annotated[str | None, typer.Option(
        "--worker-id", help="Lease owner name [default: host:pid]; a restarted worker with "
        "the same id takes its leases back at once.", show_default=False)] = None,
    home: HomeOpt = None, as_json: JsonOpt = False,
) -> None:
    """Run the journey engine on the real clock (until stopped; several may run at once)."""
    from siyu.activation.runner import worker

    ws = _ops_workspace(home)
    try:
        got = worker(ws, once=once, worker_id=worker_id)
    except KeyboardInterrupt:
        got = None
    finally:
        ws.close()
    if as_json and got is not None:
        emit_json(got)
    elif got is not None:
        out.print(tr("进入 {e}，推进 {a}", "{e} entered, {a} advanced", e=got["entered"],
                     a=got["advanced"]), markup=False)


ConsumerArg = Annotated[str, typer.Argument(metavar="CONSUMER",
                                            help="A consumer id or key (phone:138…).")]
PurposeOpt = Annotated[str, typer.Option("--purpose", help="marketing, service, profiling or "
                                         "analytics.")]
ChannelOpt = Annotated[str, typer.Option("--channel", help="wecom, group, sms, "
                                         "official_account, email or all.")]


def _consumer(ws, text: str) -> str:
    from siyu.identity.keys import is_consumer_id

    if is_consumer_id(text.strip()):
        return text.strip()
    from siyu.identity.lookup import find_consumer

    return find_consumer(ws, text).consumer_ids[0]


def _change(consumer: str, purpose: str, channel: str, granted: bool, home, as_json) -> None:
    from siyu.activation.consent import record_change
    from siyu.ops.audit import cli_actor

    ws = _ops_workspace(home)
    try:
        cid = _consumer(ws, consumer)
        got = record_change(ws.ops, consumer_id=cid, purpose=purpose, channel=channel,
                            granted=granted, actor=cli_actor())
    finally:
        ws.close()
    if as_json:
        emit_json(got)
    else:
        out.print(tr("已记录：{c} {p}/{ch} {g}", "recorded: {c} {p}/{ch} {g}", c=cid, p=purpose,
                     ch=channel, g=tr("授权", "granted") if granted else tr("撤回", "revoked")),
                  markup=False)


@consent_app.command("revoke")
def revoke_cmd(consumer: ConsumerArg, purpose: PurposeOpt = "marketing",
               channel: ChannelOpt = "all", home: HomeOpt = None,
               as_json: JsonOpt = False) -> None:
    """Revoke consent: every later send of that purpose on that channel stops at once."""
    _change(consumer, purpose, channel, False, home, as_json)


@consent_app.command("grant")
def grant_cmd(consumer: ConsumerArg, purpose: PurposeOpt = "marketing",
              channel: ChannelOpt = "all", home: HomeOpt = None,
              as_json: JsonOpt = False) -> None:
    """Record a grant (needed for marketing under consent_model = opt_in)."""
    _change(consumer, purpose, channel, True, home, as_json)


@consent_app.command("show")
def consent_show_cmd(consumer: ConsumerArg, home: HomeOpt = None,
                     as_json: JsonOpt = False) -> None:
    """Whether marketing and service messages may be sent to a consumer on each channel now."""
    from siyu.activation.consent import status
    from siyu.activation.engine import Env

    ws = _ops_workspace(home)
    env = Env(ws)
    try:
        cid = _consumer(ws, consumer)
        got = status(ws.ops, env.raw(), cid, model=ws.settings.consent_model)
    finally:
        env.close()
        ws.close()
    if as_json:
        emit_json({"consumer_id": cid, "allowed": got})
        return
    for p, chans in got.items():
        out.print(f"{p}: " + ", ".join(f"{c} {'✓' if ok else '✗'}" for c, ok in chans.items()),
                  markup=False)
