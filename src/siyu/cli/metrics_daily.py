"""``siyu metrics daily|health|cohorts``: daily monitoring, health and entry-cohort retention
(DOMAIN.md §8)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich import box
from rich.cells import cell_len
from rich.table import Table as RichTable

from siyu.cli.app import HomeOpt, JsonOpt, emit_json, out
from siyu.cli.metrics_cmds import (
    GrainOpt,
    PeriodOpt,
    RecomputeOpt,
    metrics_app,
    open_metrics_workspace,
    pct,
    period_arg,
    round_or_none,
    say_route,
)
from siyu.errors import UsageError
from siyu.i18n import tr
from siyu.results.service import DAILY_COLUMNS, DIMENSIONS, HEALTH

FromOpt = Annotated[str, typer.Option("--from", help="First day, e.g. 2025-03-01.")]
ToOpt = Annotated[str | None, typer.Option(
    "--to", help="Last day (inclusive) [default: --from].", show_default=False)]


def _num(x) -> str:
    v = round_or_none(x, 2)
    return "—" if v is None else f"{v:,.2f}"


# -- daily ---------------------------------------------------------------------------------

@metrics_app.command("daily")
def daily_cmd(
    first: FromOpt,
    last: ToOpt = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
    recompute: RecomputeOpt = False,
) -> None:
    """Daily monitoring for each day from --from to --to (DOMAIN.md §8).

    New users (first-ever relationship start that day), capital at the end of the day,
    activity / interaction / conversion rates over that capital, churn rate over the capital
    at the start of the day, group exits and unfollows. A rate with no denominator is empty.
    """
    from siyu.models.periods import periods_between
    from siyu.results.service import daily

    ws = open_metrics_workspace(home)
    try:
        days = periods_between(first, last or first, "day", zone=ws.settings.zone)
        if not days:
            raise UsageError(tr("--to 早于 --from", "--to is before --from"))
        result, route = daily(ws, days, route="computed" if recompute else None)
    finally:
        ws.close()
    say_route(route, as_json)
    rows = result["days"]
    if as_json:
        emit_json(result)
        return
    rt = RichTable(title=tr("每日监控", "daily monitoring"), title_justify="left",
                   box=box.SIMPLE_HEAD)
    for i, (_, label, _) in enumerate(DAILY_COLUMNS):
        words = label.split(" ")
        rt.add_column("\n".join(words), justify="left" if i == 0 else "right",
                      min_width=max([10 if i == 0 else 6] + [cell_len(w) for w in words]))
    for row in rows:
        rt.add_row(*[f"{row[k]:,}" if kind == "int" else pct(row[k]) if kind == "rate"
                     else str(row[k]) for k, _, kind in DAILY_COLUMNS])
    out.print(rt)


# -- health --------------------------------------------------------------------------------

@metrics_app.command("health")
def health_cmd(
    period: PeriodOpt,
    grain: GrainOpt = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
    recompute: RecomputeOpt = False,
) -> None:
    """Private-domain health of a period (a month typically) in three dimensions (§8).

    Scale: capital, new users, growth rate over P−1. Quality: DAU rate (mean daily activity
    rate), WAU rate (mean over the ISO weeks overlapping the period), interaction rate.
    Value: repurchase rate, next-period repurchase, AOV (private buyers' paid orders), CLV.
    """
    from siyu.results.service import health

    ws = open_metrics_workspace(home)
    try:
        p = period_arg(ws, period, grain)
        result, route = health(ws, p, route="computed" if recompute else None)
    finally:
        ws.close()
    say_route(route, as_json)
    if as_json:
        emit_json(result)
        return
    rt = RichTable(title=tr("私域健康度 {p}", "private-domain health {p}", p=str(p)),
                   title_justify="left")
    rt.add_column("维度 dimension")
    rt.add_column("指标 metric")
    rt.add_column("值 value", justify="right")
    for dim, items in HEALTH.items():
        for i, (k, label, kind) in enumerate(items):
            v = result[dim][k]
            text = (f"{v:,}" if kind == "int" else pct(v) if kind == "rate" else _num(v))
            rt.add_row(DIMENSIONS[dim] if i == 0 else "", label, text)
    out.print(rt)


# -- cohorts -------------------------------------------------------------------------------

CohortGrainOpt = Annotated[str, typer.Option(
    "--grain", help="Cohort grain: day | week | month.")]
CohortFromOpt = Annotated[str | None, typer.Option(
    "--from", help="First cohort (any period notation; its first day's cohort).",
    show_default=False)]
CohortToOpt = Annotated[str | None, typer.Option(
    "--to", help="Last cohort (any period notation; its last day's cohort).",
    show_default=False)]


@metrics_app.command("cohorts")
def cohorts_cmd(
    grain: CohortGrainOpt = "day",
    first: CohortFromOpt = None,
    last: CohortToOpt = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
    recompute: RecomputeOpt = False,
) -> None:
    """N-day retention of entry cohorts (§8; N from settings.retention_days, default 7, 30).

    A consumer enters on the local day of their first-ever relationship start and is
    retained for N days with a visit-type interaction on days d+1 … d+N. A week or month
    cohort unites its days' entrants. A rate stays empty while the cohort's window is not
    over at the data end (the day of the latest interaction).
    """
    from siyu.results.service import check_cohort_grain, cohorts_between

    check_cohort_grain(grain)
    ws = open_metrics_workspace(home)
    try:
        ns = sorted(set(ws.settings.retention_days))
        result, route = cohorts_between(ws, grain, first, last,
                                        route="computed" if recompute else None)
    finally:
        ws.close()
    say_route(route, as_json)
    rows = result["cohorts"]
    if as_json:
        emit_json(result)
        return
    rt = RichTable(title=tr("新增用户留存队列（{g}）", "entry cohorts by {g}", g=grain),
                   title_justify="left")
    rt.add_column("队列 cohort")
    rt.add_column("人数 size", justify="right")
    for n in ns:
        rt.add_column(f"{n}日留存 {n}-day retention", justify="right")
    for row in rows:
        rt.add_row(row["cohort"], f"{row['size']:,}",
                   *[pct(row["retention"][str(n)]) for n in ns])
    out.print(rt)
    out.print(tr("— 表示窗口尚未结束（数据截止日之后）",
                 "— the window is not over by the data end"))
