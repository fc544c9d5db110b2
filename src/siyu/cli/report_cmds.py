"""``siyu report``: every metric family of one period in one formatted .xlsx workbook."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from siyu.cli.app import HomeOpt, JsonOpt, app, emit_json, out
from siyu.cli.metrics_cmds import GrainOpt, PeriodOpt, open_metrics_workspace, period_arg
from siyu.i18n import tr

OutOpt = Annotated[Path, typer.Option(
    "--out", metavar="FILE.xlsx", help="The workbook to write (its folder must exist).",
    show_default=False)]
ForceOpt = Annotated[bool, typer.Option("--force", help="Replace FILE.xlsx if it exists.")]

REPORT_HELP = (
    "Write every metric family of a period to one formatted Excel workbook, one sheet per "
    "family (DOMAIN.md §5–§11).\n\n"
    "Sheets: 概览 Overview (brand, period, settings), FAST+, 转化矩阵 Transitions, 连接 "
    "Connection, GMV, 日监控 Daily, 健康 Health, RFM, 流失 Churn, 留存 Cohorts, 社群 Community. "
    "RFM and churn are snapshots at the end of the period. The numbers are those of the "
    "`siyu metrics` commands, read like them from the results `siyu metrics compute` stored "
    "when those are fresh (much faster), else computed; --json lists which (`routes`). An "
    "empty cell is a rate with no denominator. The file is written whole or not at all, and "
    "an existing file is kept unless --force."
)


@app.command("report", help=REPORT_HELP)
def report_cmd(
    period: PeriodOpt,
    out_file: OutOpt,
    grain: GrainOpt = None,
    force: ForceOpt = False,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """``siyu report`` (help: :data:`REPORT_HELP`)."""
    from siyu.cli.progress import count_progress
    from siyu.report import SHEET_NAMES, check_out, write_report

    check_out(out_file, force)  # before any work: a bad target fails at once
    ws = open_metrics_workspace(home)
    try:
        p = period_arg(ws, period, grain)
        with count_progress(tr("生成报表", "writing the report"), len(SHEET_NAMES),
                            enabled=not as_json) as progress:
            result = write_report(ws, p, out_file, force=force, progress=progress)
    finally:
        ws.close()
    if as_json:
        emit_json(result)
        return
    out.print(tr("报表已写入 {f}（{p}，{n} 张工作表：{s}）",
                 "report written to {f} ({p}, {n} sheets: {s})", f=result["out"],
                 p=result["period"], n=len(result["sheets"]), s=", ".join(result["sheets"])),
              markup=False)
    routes = result["routes"]
    stored = [f for f, r in routes.items() if r == "stored"]
    computed = [f for f, r in routes.items() if r != "stored"]
    out.print(tr("读自已存结果：{s}；现算：{c}", "read from stored results: {s}; computed: {c}",
                 s=", ".join(stored) or "—", c=", ".join(computed) or "—"), markup=False)
