"""``siyu metrics compute``: store the metric families in the warehouse (siyu.results)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table as RichTable

from siyu.cli.app import HomeOpt, JsonOpt, emit_json, out
from siyu.cli.metrics_cmds import metrics_app, open_metrics_workspace
from siyu.i18n import tr

COMPUTE_HELP = (
    "Compute the metric families and store them in the warehouse (tables metrics_*, keyed by "
    "grain and period) for the console, the API and reports.\n\n"
    "A re-run computes only what changed: periods never stored, and stored periods that end "
    "after the earliest event imported (or re-assigned by OneID) since the last run. Settings "
    "or a siyu version that change the definitions recompute everything. Run `siyu identity "
    "resolve` after imports first: rows whose keys are not resolved are not counted."
)


REASONS = {
    "full": ("按要求全部重算", "full recompute, as asked"),
    "first_run": ("首次计算", "first run"),
    "definitions_changed": ("设置或版本已变，全部重算", "settings or version changed: all recomputed"),
    "new_data": ("有新数据：重算受影响的期间", "new data: affected periods recomputed"),
    "new_periods": ("新增期间", "new periods"),
    "up_to_date": ("已是最新", "up to date"),
}


@metrics_app.command("compute", help=COMPUTE_HELP)
def compute_cmd(
    grain: Annotated[str, typer.Option(
        "--grain", help="day | week | month | quarter")] = "month",
    first: Annotated[str | None, typer.Option(
        "--from", metavar="PERIOD", help="First period in the grain's notation (2025-01, "
        "2025-W02, 2025-01-06, 2025-Q1) [default: the period of the first event].",
        show_default=False)] = None,
    last: Annotated[str | None, typer.Option(
        "--to", metavar="PERIOD", help="Last period [default: the period of the last event].",
        show_default=False)] = None,
    full: Annotated[bool, typer.Option(
        "--full", help="Recompute every period of the grain, changed or not.")] = False,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    from siyu.cli.progress import count_progress
    from siyu.results import compute_metrics

    ws = open_metrics_workspace(home)
    try:
        with count_progress(tr("计算指标", "computing metrics"), 1,
                            enabled=not as_json) as progress:
            report = compute_metrics(ws, grain, first, last, full=full,  # type: ignore[arg-type]
                                     progress=progress)
    finally:
        ws.close()
    if as_json:
        emit_json(report.as_json())
        return
    t = RichTable(title=tr("指标计算 metrics compute", "metrics compute 指标计算"))
    t.add_column(tr("项目", "item"))
    t.add_column(tr("值", "value"))
    span = f"{report.requested[0]} … {report.requested[-1]}" if report.requested else "—"
    t.add_row(tr("粒度 grain", "grain 粒度"), grain)
    t.add_row(tr("期间 periods", "periods 期间"), span)
    t.add_row(tr("已计算 computed", "computed 已计算"), str(len(report.computed)))
    t.add_row(tr("无需重算 up to date", "up to date 无需重算"), str(report.skipped))
    t.add_row(tr("原因 reason", "reason 原因"), tr(*REASONS[report.reason]))
    if report.batch_periods:
        t.add_row(tr("每批期间数 periods per batch", "periods per batch 每批期间数"),
                  str(report.batch_periods))
    t.add_row(tr("耗时 seconds", "seconds 耗时"), f"{report.seconds:.1f}")
    out.print(t)
