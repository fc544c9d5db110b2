"""``siyu metrics rfm`` (DOMAIN.md §9) and ``siyu metrics churn`` (§10): snapshots at the end
of a local day."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table as RichTable

from siyu.cli.app import HomeOpt, JsonOpt, emit_json, out
from siyu.cli.metrics_cmds import (
    RecomputeOpt,
    as_of_instant,
    label,
    metrics_app,
    open_metrics_workspace,
    say_route,
)
from siyu.errors import UsageError
from siyu.i18n import tr

AsOfOpt = Annotated[str, typer.Option(
    "--as-of", metavar="DATE",
    help="Snapshot day YYYY-MM-DD (brand-local). The snapshot is the end of that day: the "
         "instant 00:00 of DATE+1 in the brand's time zone, so every event of DATE counts.",
    show_default=False)]



def _segment_label(code: str) -> str:
    from siyu.models.rfm import SEGMENTS

    return label(*SEGMENTS[code])


RFM_HELP = (
    "RFM scores and value segments of the buyers at a snapshot (DOMAIN.md §9).\n\n"
    "Buyers have a paid order in the rfm_lookback_days before the snapshot. R (days since the "
    "last order), F (purchase days) and M (amount) are scored 1–5 by quintile, ties broken by "
    "consumer_id. Segments, first that holds: 新客 new, 高价值忠诚客 high-value loyal, "
    "流失预警客 churn warning, 潜力复购客 potential repeat, 沉睡客 dormant."
)
CHURN_HELP = (
    "High churn-risk consumers of the private domain at a snapshot (DOMAIN.md §10).\n\n"
    "High risk = all of: no engaged interaction (like, comment, message, checkin) in "
    "churn_no_engaged_days days; a brand message (message_sent) older than churn_unread_hours "
    "hours not read since; no view in churn_no_view_days days."
)


@metrics_app.command("rfm", help=RFM_HELP)
def rfm_cmd(
    as_of: AsOfOpt,
    out_file: Annotated[Path | None, typer.Option(
        "--out", metavar="FILE",
        help="Also write the per-buyer table (consumer_id, recency_days, frequency, monetary, "
             "r, f, m, segment) to FILE.csv or FILE.parquet.", show_default=False)] = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
    recompute: RecomputeOpt = False,
) -> None:
    """``siyu metrics rfm`` (help: :data:`RFM_HELP`)."""
    from siyu.results.service import rfm

    if out_file is not None and out_file.suffix.lower() not in (".csv", ".parquet"):
        raise UsageError(tr("--out 须为 .csv 或 .parquet 文件：{f}",
                            "--out must be a .csv or .parquet file: {f}", f=out_file))
    ws = open_metrics_workspace(home)
    try:
        day, s = as_of_instant(ws, as_of)
        result, route = rfm(ws, day, s, out_file, route="computed" if recompute else None)
    finally:
        ws.close()
    say_route(route, as_json)
    segments, buyers = result["segments"], result["buyers"]
    total = sum(v["gmv"] for v in segments.values())
    if as_json:
        emit_json(result)
        return
    rt = RichTable(title=tr("RFM 价值分群（截至 {d} 日终）", "RFM segments (end of {d})",
                            d=day.isoformat()), title_justify="left")
    rt.add_column(label("分群", "segment"))
    rt.add_column(label("人数", "buyers"), justify="right")
    rt.add_column(label("金额", "GMV"), justify="right")
    rt.add_column(label("金额占比", "GMV share"), justify="right")
    for code, v in segments.items():
        share = "—" if v["gmv_share"] is None else f"{v['gmv_share']:.1%}"
        rt.add_row(_segment_label(code), f"{v['count']:,}", f"¥{v['gmv']:,.2f}", share)
    rt.add_row(label("合计", "total"), f"{buyers:,}", f"¥{total:,.2f}",
               "100.0%" if total > 0 else "—")
    out.print(rt)
    if out_file is not None:
        out.print(tr("明细已写入 {f}", "per-buyer table written to {f}", f=out_file),
                  markup=False)


@metrics_app.command("churn", help=CHURN_HELP)
def churn_cmd(as_of: AsOfOpt, home: HomeOpt = None, as_json: JsonOpt = False,
              recompute: RecomputeOpt = False) -> None:
    """``siyu metrics churn`` (help: :data:`CHURN_HELP`)."""
    from siyu.results.service import churn

    ws = open_metrics_workspace(home)
    try:
        day, s = as_of_instant(ws, as_of)
        result, route = churn(ws, day, s, route="computed" if recompute else None)
        cfg = ws.settings
    finally:
        ws.close()
    say_route(route, as_json)
    n = {"private": result["private"], "high_risk": result["high_risk"],
         **result["conditions"]}
    rate = result["rate"]
    if as_json:
        emit_json(result)
        return
    rt = RichTable(title=tr("流失风险（截至 {d} 日终）", "churn risk (end of {d})",
                            d=day.isoformat()), title_justify="left", show_header=False)
    rt.add_column()
    rt.add_column(justify="right")
    rows = [
        (label("私域用户", "private-domain consumers"), n["private"]),
        (label(f"{cfg.churn_no_engaged_days} 天无互动",
               f"no engaged interaction in {cfg.churn_no_engaged_days} days"), n["no_engaged"]),
        (label(f"消息超 {cfg.churn_unread_hours} 小时未读",
               f"message unread > {cfg.churn_unread_hours} h"), n["unread_message"]),
        (label(f"{cfg.churn_no_view_days} 天无浏览",
               f"no view in {cfg.churn_no_view_days} days"), n["no_view"]),
        (label("高流失风险", "high risk"), n["high_risk"]),
    ]
    for text, value in rows:
        rt.add_row(text, f"{value:,}")
    rt.add_row(label("高风险占比", "high-risk rate"), "—" if rate is None else f"{rate:.1%}")
    out.print(rt)
