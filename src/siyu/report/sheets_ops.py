"""Report sheets: daily monitoring, health, cohorts (DOMAIN.md §8), RFM (§9), churn (§10).

Each shows what its ``siyu metrics`` command reads (:mod:`siyu.results.service`: the stored
results when fresh, else the models), with the CLI's labels; the cohort tables also show
the retained counts. RFM and churn are snapshots at end(P), like ``--as-of`` the period's
last day.
"""

from __future__ import annotations

from siyu.cli.metrics_cmds import label, round_or_none
from siyu.cli.metrics_daily import DAILY_COLUMNS, DIMENSIONS, HEALTH
from siyu.report.context import Context
from siyu.report.layout import Column, Kind, Sheet, Table, Typed, kv

__all__ = ["daily_sheet", "health_sheet", "rfm_sheet", "churn_sheet", "cohorts_sheet"]

KINDS: dict[str, Kind] = {"text": "date", "int": "int", "rate": "rate", "money": "money"}
"""The CLI tables' column kinds as report kinds (the daily ``date`` column is a day)."""


def _days(ctx: Context):
    from siyu.models.periods import period_of, periods_between

    p = ctx.period
    return periods_between(period_of(p.start, "day", p.zone),
                           period_of(ctx.last_day, "day", p.zone), zone=p.zone)


def daily_sheet(ctx: Context) -> Sheet:
    """``siyu metrics daily`` over every day of the period."""
    from siyu.results import service

    days = ctx.read("daily", service.daily(ctx.ws, _days(ctx)))["days"]
    rows = [[d[k] for k, _, _ in DAILY_COLUMNS] for d in days]
    cols = [Column(lbl, KINDS[kind]) for _, lbl, kind in DAILY_COLUMNS]
    return Sheet("日监控 Daily", [Table(cols, rows, notes=[
        label("空白 = 分母为 0（无定义）", "empty = zero denominator (undefined)", " / ")])],
        freeze_columns=1)


def health_sheet(ctx: Context) -> Sheet:
    """``siyu metrics health`` of the period: scale, quality, value."""
    from siyu.results import service

    r = ctx.read("health", service.health(ctx.ws, ctx.period))
    rows = []
    for dim, items in HEALTH.items():
        for i, (k, lbl, kind) in enumerate(items):
            rows.append([DIMENSIONS[dim] if i == 0 else None, lbl, Typed(r[dim][k], KINDS[kind])])
    cols = [Column("维度 dimension"), Column("指标 metric"), Column("值 value")]
    return Sheet("健康 Health", [Table(cols, rows)])


def rfm_sheet(ctx: Context) -> Sheet:
    """``siyu metrics rfm --as-of <last day>``: buyers, GMV and GMV share per segment."""
    from siyu.models.rfm import SEGMENT_ORDER, SEGMENTS
    from siyu.results import service

    r = ctx.read("rfm", service.rfm(ctx.ws, ctx.last_day, ctx.snapshot))
    seg = r["segments"]
    rows = [[label(*SEGMENTS[code]), seg[code]["count"], seg[code]["gmv"],
             seg[code]["gmv_share"]] for code in SEGMENT_ORDER]
    total = round(sum(s["gmv"] for s in seg.values()), 2)
    rows.append([label("合计", "total"), r["buyers"], total, 1.0 if total > 0 else None])
    cols = [Column(label("分群", "segment")), Column(label("人数", "buyers"), "int"),
            Column(label("金额", "GMV"), "money"), Column(label("金额占比", "GMV share"), "rate")]
    note = label(f"截至 {ctx.last_day.isoformat()} 日终；近 {ctx.settings.rfm_lookback_days} 天"
                 "有实付订单的买家",
                 f"at the end of {ctx.last_day.isoformat()}; buyers with a paid order in the "
                 f"last {ctx.settings.rfm_lookback_days} days", " / ")
    return Sheet("RFM", [Table(cols, rows, notes=[note])])


def churn_sheet(ctx: Context) -> Sheet:
    """``siyu metrics churn --as-of <last day>``: the population, each condition, high risk."""
    from siyu.results import service

    r = ctx.read("churn", service.churn(ctx.ws, ctx.last_day, ctx.snapshot))
    cfg = ctx.settings
    n = {"private": r["private"], "high_risk": r["high_risk"], **r["conditions"]}
    rows = [
        kv(label("私域用户", "private-domain consumers"), n["private"], "int"),
        kv(label(f"{cfg.churn_no_engaged_days} 天无互动",
                 f"no engaged interaction in {cfg.churn_no_engaged_days} days"),
           n["no_engaged"], "int"),
        kv(label(f"消息超 {cfg.churn_unread_hours} 小时未读",
                 f"message unread > {cfg.churn_unread_hours} h"), n["unread_message"], "int"),
        kv(label(f"{cfg.churn_no_view_days} 天无浏览", f"no view in {cfg.churn_no_view_days} days"),
           n["no_view"], "int"),
        kv(label("高流失风险", "high risk"), n["high_risk"], "int"),
        kv(label("高风险占比", "high-risk rate"), r["rate"], "rate"),
    ]
    cols = [Column(label("指标", "metric")), Column(label("值", "value"))]
    note = label(f"截至 {ctx.last_day.isoformat()} 日终", f"at the end of "
                 f"{ctx.last_day.isoformat()}", " / ")
    return Sheet("流失 Churn", [Table(cols, rows, notes=[note])])


ROLLUP = {"week": "week", "month": "month", "quarter": "month", "year": "month"}
"""Cohort grain of the second cohorts table per period grain (a day needs none)."""


def _cohort_table(ctx: Context, grain: str, ns: list[int], title: str | None) -> Table:
    """The cohorts of ``grain`` entering in the period; the family's route is ``stored`` only
    when every cohort table of the sheet is."""
    from siyu.results import service

    p = ctx.period
    records, route = service.cohort_records(ctx.ws, grain, p.start, p.end)
    if ctx.routes.get("cohorts") != "computed":
        ctx.routes["cohorts"] = route
    cols = [Column("队列 cohort", "id"), Column("人数 size", "int")]
    for n in ns:
        cols += [Column(f"{n}日留存人数 retained in {n} days", "int"),
                 Column(f"{n}日留存 {n}-day retention", "rate")]
    rows = []
    for r in records:
        row = [r["cohort"], int(r["size"])]
        for n in ns:
            row += [int(r[f"retained_{n}"]), round_or_none(r[f"retention_{n}"])]
        rows.append(row)
    return Table(cols, rows, title=title)


def cohorts_sheet(ctx: Context) -> Sheet:
    """``siyu metrics cohorts``: the day cohorts entering in the period, then the same rolled up
    by week or month (for a week, month, quarter or year)."""
    ns = sorted(set(ctx.settings.retention_days))
    tables = [_cohort_table(ctx, "day", ns, None)]
    grain = ROLLUP.get(ctx.period.grain)
    if grain:
        zh = {"week": "按周", "month": "按月"}[grain]
        tables.append(_cohort_table(ctx, grain, ns, label(zh, f"by {grain}")))
    tables[-1].notes.append(label(
        "空白 = 留存窗口在数据截止日（最新互动日）尚未结束",
        "empty = the window is not over by the data end (the latest interaction's day)", " / "))
    return Sheet("留存 Cohorts", tables, freeze_columns=1)
