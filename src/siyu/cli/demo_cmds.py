"""``siyu demo`` (generate → import → resolve → summary → journeys) and ``siyu summary``."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table as RichTable

from siyu.cli.app import HomeOpt, JsonOpt, app, emit_json, err, open_workspace, out
from siyu.cli.progress import count_progress, file_progress
from siyu.errors import SiyuError
from siyu.i18n import tr

DEMO_MARKER = ".siyu-demo"
DEMO_BRAND = "小满生活 Xiaoman Life (demo)"


def _prepare_dir(d: Path) -> None:
    """An empty folder for the demo; a previous demo there is replaced, anything else kept."""
    if d.exists() and any(d.iterdir()):
        if not (d / DEMO_MARKER).exists():
            raise SiyuError(tr("{d} 不是空目录，也不是之前的演示工作区；请换一个 --dir",
                               "{d} is not empty and not an earlier demo workspace; "
                               "choose another --dir", d=d))
        shutil.rmtree(d)
    d.mkdir(parents=True, exist_ok=True)
    (d / DEMO_MARKER).write_text("created by `siyu demo`; safe to delete\n", encoding="utf-8")


def _print_summary(s: dict, stats: dict | None = None) -> None:
    rt = RichTable(title=f"{s['brand']} — {tr('工作区概览', 'workspace summary')}",
                   title_justify="left", show_header=False)
    rt.add_column()
    rt.add_column(justify="right")
    if s.get("span"):
        rt.add_row(tr("时间范围", "period"), f"{s['span']['from']} … {s['span']['to']}")
    for name, n in s["rows"].items():
        rt.add_row(f"  {name}", f"{n:,}")
    if "consumers" in s:
        rt.add_row(tr("消费者（OneID）", "consumers (OneID)"), f"{s['consumers']:,}")
        rt.add_row(tr("标识数", "keys"), f"{s['keys']:,}")
        rt.add_row(tr("当前私域用户", "in the private domain now"), f"{s['private_domain_now']:,}")
        rt.add_row(tr("当前会员", "members now"), f"{s['members_now']:,}")
        rt.add_row(tr("购买者", "buyers"), f"{s['buyers']:,}")
    rt.add_row(tr("已支付订单", "paid orders"), f"{s['paid_orders']:,}")
    rt.add_row("GMV", f"¥{s['gmv']:,.2f}")
    if stats:
        for label, v in stats.items():
            rt.add_row(label, v)
    out.print(rt)


@app.command()
def demo(
    directory: Annotated[Path, typer.Option("--dir", help="Workspace folder for the demo "
                                            "(an earlier demo there is replaced).")] = Path("demo"),
    consumers: Annotated[int, typer.Option("--consumers", min=100,
                                           help="Consumers in the generated brand.")] = 50_000,
    days: Annotated[int, typer.Option("--days", min=7,
                                      help="Days of history, ending 2025-12-31.")] = 365,
    seed: Annotated[int, typer.Option("--seed", min=0,
                                      help="Random seed (same seed, same brand).")] = 7,
    as_json: JsonOpt = False,
    serve: Annotated[bool | None, typer.Option(
        "--serve/--no-serve", help="End by serving the console on http://127.0.0.1:8000/ with "
        "a demo login [default: serve when run in a terminal, not in scripts or CI].",
        show_default=False)] = None,
) -> None:
    """Generate a realistic brand into a fresh workspace, import it, resolve identities and
    print what it holds."""
    from siyu.demo import generate
    from siyu.identity import resolve
    from siyu.ingest import import_dir
    from siyu.summary import workspace_summary
    from siyu.workspace import Workspace

    directory = directory.expanduser().resolve()
    _prepare_dir(directory)
    source = directory / "source"
    t0 = time.perf_counter()
    quiet = as_json
    if not quiet:
        err.print(tr("① 生成示例品牌：{n} 位消费者，{d} 天 → {p}",
                     "① generating a brand: {n} consumers over {d} days → {p}",
                     n=f"{consumers:,}", d=days, p=source))
    with count_progress(tr("生成", "generate"), consumers, enabled=not quiet) as progress:
        generated = generate(source, consumers=consumers, days=days, seed=seed,
                             progress=progress)
    t_gen = time.perf_counter() - t0
    ws = Workspace.init(directory, brand_name=DEMO_BRAND, exist_ok=True)
    try:
        if not quiet:
            err.print(tr("② 导入 {p}", "② importing {p}", p=source))
        t1 = time.perf_counter()
        with file_progress(enabled=not quiet) as progress:
            results = import_dir(ws, source, progress=progress)
        t_imp = time.perf_counter() - t1
        if not quiet:
            err.print(tr("③ OneID 身份合并", "③ resolving identities (OneID)"))
        t2 = time.perf_counter()
        report = resolve(ws).to_dict()
        t_id = time.perf_counter() - t2
        summary = workspace_summary(ws)
        example = _example_key(ws)
        diagnosis = _last_month_fast(ws, summary)
        t3 = time.perf_counter()
        flows = _journeys(ws, summary, quiet)
        t_j = time.perf_counter() - t3
        t4 = time.perf_counter()
        console = _console_data(ws, summary, quiet)
        t_c = time.perf_counter() - t4
    finally:
        ws.close()
    imported = {k: sum(r.as_json()[k] for r in results)
                for k in ("read", "loaded", "duplicates", "rejected")}
    if as_json:
        emit_json({"home": str(directory), "generated": generated, "import": imported,
                   "identity": report, "summary": summary, "fast": diagnosis,
                   "journeys": flows, "console": console,
                   "seconds": {"generate": round(t_gen, 1), "import": round(t_imp, 1),
                               "identity": round(t_id, 1), "journeys": round(t_j, 1),
                               "console": round(t_c, 1)}})
        return
    _print_summary(summary, {
        tr("导入：读取 / 新增 / 重复 / 拒绝", "import: read / loaded / duplicates / rejected"):
            f"{imported['read']:,} / {imported['loaded']:,} / {imported['duplicates']:,} / "
            f"{imported['rejected']:,}",
        tr("身份冲突（未合并）", "identity conflicts (not merged)"):
            f"{report.get('conflicts', 0):,}",
        tr("耗时：生成 / 导入 / OneID", "seconds: generate / import / OneID"):
            f"{t_gen:.0f} / {t_imp:.0f} / {t_id:.0f}",
    })
    if diagnosis:
        from siyu.cli.metrics_fast import print_fast

        print_fast(diagnosis)
    if flows:
        _print_journeys(flows, t_j, directory)
    month = diagnosis["period"] if diagnosis else "2025-12"
    out.print(tr("工作区：{h}\n被拒绝的行见 {r}\n接下来试试：\n  .venv/bin/siyu summary --home {h}\n"
                 "  .venv/bin/siyu consumer show {k} --home {h}\n"
                 "  .venv/bin/siyu metrics gmv --period {m} --home {h}\n"
                 "  .venv/bin/siyu metrics --help",
                 "workspace: {h}\nrejected rows are in {r}\nnext, try:\n"
                 "  .venv/bin/siyu summary --home {h}\n  .venv/bin/siyu consumer show {k} --home {h}\n"
                 "  .venv/bin/siyu metrics gmv --period {m} --home {h}\n"
                 "  .venv/bin/siyu metrics --help",
                 h=directory, r=directory / "rejects", k=example or "KEY", m=month), markup=False)
    if serve if serve is not None else _interactive():
        _serve_demo(directory)


def _journeys(ws, summary: dict, quiet: bool) -> dict | None:
    """Step ④: shipped journey templates run by the simulated clock over the last 14 days of
    the data, messages delivered to the file channel (siyu.demo.journeys)."""
    from datetime import date

    from siyu.demo.journeys import DEMO_TEMPLATES, run_demo_journeys

    if not summary.get("span"):
        return None
    if not quiet:
        err.print(tr("④ 旅程：部署 {t}，模拟最近 14 天（消息写入文件渠道）",
                     "④ journeys: deploying {t}, simulating the last 14 days (messages go to "
                     "the file channel)", t=", ".join(DEMO_TEMPLATES)))
    with count_progress(tr("旅程", "journeys"), 14, enabled=not quiet) as progress:
        return run_demo_journeys(ws, date.fromisoformat(summary["span"]["to"]),
                                 progress=progress)


def _console_data(ws, summary: dict, quiet: bool) -> dict | None:
    """Step ⑤: what the console reads — the stored results of the last six months of the
    data (`siyu metrics compute`; the 360° page's tier history spans six months),
    the tags at the last day of the data (`siyu tag compute`, which also builds the bitmap
    index of instant audience counts) and the consumer lookup index (`siyu consumer
    index`)."""
    from datetime import date

    from siyu.consumers.index import build_index
    from siyu.models.periods import period_of
    from siyu.results import compute_metrics
    from siyu.tags.compute import compute as compute_tags

    if not summary.get("span"):
        return None
    if not quiet:
        err.print(tr("⑤ 运营台数据：最近 6 个月的指标结果、标签（含人群计数索引）、消费者索引",
                     "⑤ console data: the last six months' results, tags (with the audience "
                     "count index), the consumer lookup index"))
    with count_progress(tr("运营台数据", "console data"), 3, enabled=not quiet) as progress:
        step = progress or (lambda _done, _total=3: None)
        last_day = date.fromisoformat(summary["span"]["to"])
        last = period_of(last_day, "month", ws.settings.zone)
        first = last
        for _ in range(5):
            first = first.previous()
        months = compute_metrics(ws, "month", str(first), str(last))
        step(1)
        tags = compute_tags(ws, as_of=last_day)
        step(2)
        lookup = build_index(ws).as_json()
        step(3)
    return {"months": len(months.computed), "tags": tags["computed"],
            "tags_skipped": tags["skipped"], "lookup_rows": lookup["rows"]}


def _print_journeys(f: dict, seconds: float, home: Path) -> None:
    rt = RichTable(title=tr("旅程（模拟 {a} … {b}）", "journeys (simulated {a} … {b})",
                            a=f["from"], b=f["until"]), title_justify="left")
    rt.add_column(tr("旅程", "journey"))
    rt.add_column(tr("进入", "enrolled"), justify="right")
    for name, n in f["enrolled"].items():
        rt.add_row(name, f"{n:,}")
    out.print(rt)
    supp = ", ".join(f"{k} {v:,}" for k, v in f["suppressed"].items()) or "0"
    out.print(tr("消息 {m}（已送达文件渠道 {d}），被拦截：{s}，导购任务 {t}，耗时 {x:.0f} 秒\n"
                 "查看：\n  .venv/bin/siyu outbox list --home {h}\n"
                 "  .venv/bin/siyu journey stats {j} --home {h}\n"
                 "  .venv/bin/siyu task list --home {h}",
                 "messages {m} (delivered to the file channel {d}), suppressed: {s}, guide "
                 "tasks {t}, {x:.0f} s\nsee them:\n  .venv/bin/siyu outbox list --home {h}\n"
                 "  .venv/bin/siyu journey stats {j} --home {h}\n"
                 "  .venv/bin/siyu task list --home {h}",
                 m=f"{f['messages']:,}", d=f"{f['delivered']:,}", s=supp, t=f"{f['tasks']:,}",
                 x=seconds, h=home, j=next(iter(f["enrolled"]))), markup=False)


def _interactive() -> bool:
    """A person at a terminal (not a script, a pipe or CI)."""
    import os
    import sys

    return sys.stdin.isatty() and sys.stdout.isatty() and not os.environ.get("CI")


def _serve_demo(directory: Path) -> None:
    """Serve the demo brand with a fresh admin login (issue 8)."""
    import secrets

    from siyu.cli.serve_cmds import run_server
    from siyu.web.auth import add_user

    password = secrets.token_urlsafe(9)
    ws = open_workspace(directory)
    try:
        add_user(ws.ops, "demo", "admin", password, replace=True)
    finally:
        ws.close()
    run_server(directory, "127.0.0.1", 8000, banner=tr(
        "登录：用户名 demo，密码 {p}", "login: name demo, password {p}", p=password))


def _last_month_fast(ws, summary: dict) -> dict | None:
    """FAST+ of the last full month of the data (DOMAIN.md §6), or None without data."""
    from datetime import date, timedelta

    from siyu.models.fast import fast
    from siyu.models.periods import period_of
    from siyu.models.sources import Sources

    if not summary.get("span"):
        return None
    last_day = date.fromisoformat(summary["span"]["to"])
    month = period_of(last_day + timedelta(days=1), "month", ws.settings.zone).previous()
    return fast(Sources.of(ws), month)


def _example_key(ws) -> str | None:
    """A non-personal key of a consumer with several keys, to suggest `consumer show`."""
    from siyu.warehouse import scalar

    if not ws.warehouse.has_table("identity_map"):
        return None
    return scalar(ws.warehouse.raw, """
        WITH multi AS (SELECT consumer_id FROM identity_map GROUP BY consumer_id
                       HAVING count(*) >= 3)
        SELECT min(key) FROM identity_map JOIN multi USING (consumer_id)
        WHERE key_type IN ('member', 'wecom')""")


@app.command()
def summary(home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """What the workspace holds: rows per table, period, consumers, members, GMV."""
    from siyu.summary import workspace_summary

    ws = open_workspace(home)
    try:
        s = workspace_summary(ws)
    finally:
        ws.close()
    if as_json:
        emit_json(s)
    else:
        _print_summary(s)
