"""Report sheets: overview, FAST+ (DOMAIN.md §5–§6) and GMV (§7).

FAST+, the transition matrix and Connection come from one :func:`siyu.models.fast.fast` call,
GMV from :func:`siyu.models.gmv.gmv`: the cells hold exactly the numbers of ``siyu metrics fast
--json`` and ``siyu metrics gmv --json``. Labels are those of the CLI tables.
"""

from __future__ import annotations

from siyu.cli.metrics_cmds import label
from siyu.cli.metrics_fast import FACTOR_LABELS, FIELD_LABELS
from siyu.models.tiers import TIER_NAMES
from siyu.report.context import Context
from siyu.report.layout import Column, Kind, Sheet, Table, Typed, kv

__all__ = ["overview", "fast_sheet", "transitions_sheet", "connection_sheet", "gmv_sheet",
           "field_label", "tier_label"]

REPORT_SETTINGS = (
    "propagation_window_days", "propagation_reviews", "propagation_review_min_rating",
    "clv_window_days", "clv_basis", "rfm_lookback_days", "rfm_new_days", "rfm_loyal_min_score",
    "rfm_warning_max_r", "rfm_warning_min_fm", "rfm_potential_min_r", "churn_no_engaged_days",
    "churn_unread_hours", "churn_no_view_days", "retention_days", "group_capacity",
)
"""The settings that change a number in the report (shown on the overview)."""

CONTENTS = (  # sheet, contents (zh, en), DOMAIN.md section
    ("FAST+", "私域关系数、关系加深效率、层级与 CLV", "Capital, Conversion, tiers and CLV", "§5–§6"),
    ("转化矩阵 Transitions", "层级迁移矩阵 上期末 → 本期末", "tier transitions P−1 → P", "§6"),
    ("连接 Connection", "场域引力（按场域、按触点）", "Connection per field and touchpoint", "§6"),
    ("GMV", "私域 GMV、因子分解与 LMDI 归因、场域 GMV",
     "private GMV, factors, LMDI attribution, GMV by field", "§7"),
    ("日监控 Daily", "期内每日监控", "daily monitoring, one row per day", "§8"),
    ("健康 Health", "规模、质量、价值三维健康度", "health: scale, quality, value", "§8"),
    ("RFM", "期末 RFM 价值分群", "RFM segments at the end of the period", "§9"),
    ("流失 Churn", "期末流失风险", "churn risk at the end of the period", "§10"),
    ("留存 Cohorts", "期内新增用户的留存队列", "retention of the period's entry cohorts", "§8"),
    ("社群 Community", "社群指标（整体、群类型、门店、群）",
     "community: overall, by type, by store, by group", "§11"),
)


def field_label(f: str) -> str:
    """``导购企微 guide`` (the CLI's field label); ``（无场域） none`` for orders without one."""
    if f == "none":
        return "（无场域） none"
    return f"{FIELD_LABELS.get(f, '')} {f}".strip()


def tier_label(t: int) -> str:
    """``3 已购会员 purchasing member``."""
    zh, en = TIER_NAMES[t]
    return f"{t} {zh} {en}"


def _setting_text(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list | tuple):
        return ", ".join(str(x) for x in v)
    return str(v)


def overview(ctx: Context) -> Sheet:
    """Brand, period, snapshot, when and by which siyu, the settings that matter."""
    from siyu import __version__

    p, cfg = ctx.period, ctx.settings
    about = Table([Column(label("项目", "item")), Column(label("值", "value"))], [
        kv(label("品牌", "brand"), cfg.brand_name, "text"),
        kv(label("期间", "period"), str(p), "id"),
        kv(label("粒度", "grain"), p.grain, "text"),
        kv(label("首日", "first day"), p.start, "date"),
        kv(label("末日", "last day"), ctx.last_day, "date"),
        kv(label("上期", "previous period"), str(p.previous()), "id"),
        kv(label("时区", "time zone"), cfg.timezone, "text"),
        kv(label("RFM 与流失快照", "RFM and churn snapshot"),
           f"{ctx.last_day.isoformat()} 24:00", "text"),
        kv(label("生成时间", "generated at"),
           ctx.generated_at.strftime("%Y-%m-%d %H:%M:%S %z"), "text"),
        kv(label("siyu 版本", "siyu version"), __version__, "text"),
    ])
    settings = Table([Column(label("设置", "setting")), Column(label("值", "value"))],
                     [[name, _setting_text(getattr(cfg, name))] for name in REPORT_SETTINGS],
                     title=label("影响结果的设置", "settings that change the numbers"))
    sheets = Table([Column(label("工作表", "sheet")), Column(label("内容", "contents")),
                    Column("DOMAIN.md")],
                   [[name, label(zh, en, " / "), sec] for name, zh, en, sec in CONTENTS],
                   title=label("工作表", "sheets"))
    return Sheet("概览 Overview", [about, settings, sheets])


def fast_sheet(ctx: Context) -> Sheet:
    """Capital, deepened, Conversion, CLV; tier counts with their mean CLV."""
    from siyu.models.fast import TIER_KEYS

    r = ctx.fast
    clv = r["clv"]
    basis = label("毛利", "gross profit") if clv["basis"] == "profit" else label("实付金额",
                                                                                  "amount")
    head = Table([Column(label("指标", "metric")), Column(label("值", "value"))], [
        kv("可持续运营私域关系数 Capital", r["capital"], "int"),
        kv("关系加深人数 deepened", r["deepened"], "int"),
        kv("角色关系加深效率 Conversion", r["conversion"], "rate"),
        kv("角色关系价值 CLV 人均 mean", clv["mean"], "money"),
        kv("CLV 合计 total", clv["total"], "money"),
        kv(label("CLV 口径", "CLV basis"), basis, "text"),
    ])
    tiers = Table(
        [Column(label("层级", "tier")), Column(label("人数", "consumers"), "int"),
         Column(label("人均 CLV", "mean CLV"), "money")],
        [[tier_label(t), r["tiers"][TIER_KEYS[t]], clv["by_tier"][str(t)]]
         for t in range(1, 6)],
        title=label("关系层级（期末）", "tiers at end of period"))
    return Sheet("FAST+", [head, tiers])


def transitions_sheet(ctx: Context) -> Sheet:
    """The 6 × 6 tier transition matrix, rows end(P−1), columns end(P)."""
    m = ctx.fast["transitions"]
    cols = [Column(label("上期末 \\ 本期末", "P−1 \\ P"))]
    cols += [Column(tier_label(t), "int") for t in range(6)]
    t = Table(cols, [[tier_label(b), *row] for b, row in enumerate(m)], notes=[
        label("行：上期末层级，列：本期末层级。(0, 0) 格按定义为 0：只计两期中至少一期在私域内的消费者",
              "rows: tier at end of P−1, columns: tier at end of P. Cell (0, 0) is 0 by "
              "construction: only consumers in the private domain at one of the two ends "
              "are counted", " / ")])
    return Sheet("转化矩阵 Transitions", [t], freeze_columns=1)


def connection_sheet(ctx: Context) -> Sheet:
    """Connection per field (every field; empty when it had no visitors) and per touchpoint."""
    r = ctx.fast
    share = label("访客中私域占比", "private share of visitors")
    fields = Table([Column(label("场域", "field")), Column(share, "rate")],
                   [[field_label(f), rate] for f, rate in r["connection"].items()],
                   notes=[label("空白 = 本期无访客", "empty = no visitors in the period",
                                " / ")])
    refs = Table([Column(label("触点", "touchpoint") + " field_ref", "id"),
                  Column(share, "rate")],
                 [[ref, rate] for ref, rate in r["connection_by_ref"].items()],
                 title=label("触点引力", "Connection per touchpoint"))
    return Sheet("连接 Connection", [fields, refs])


FACTOR_KINDS: dict[str, Kind] = {"users": "int", "conversion": "rate", "frequency": "ratio",
                                 "aov": "money"}


def gmv_sheet(ctx: Context) -> Sheet:
    """GMV of P and P−1, the factors U × c × f × a with the LMDI parts, GMV by field."""
    from siyu.models.gmv import FACTORS
    from siyu.results import service

    r = ctx.read("gmv", service.gmv(ctx.ws, ctx.period))
    att = r["attribution"] or {}
    cols = [Column(label("指标", "metric")), Column(f"{label('上期', 'previous')} {r['previous']}"),
            Column(f"{label('本期', 'period')} {r['period']}"),
            Column(label("变化 / 贡献 Δ", "change / contribution Δ"), "money")]
    rows = [["私域GMV private GMV", Typed(r["previous_gmv"], "money"), Typed(r["gmv"], "money"),
             r["change"]]]
    for k in FACTORS:
        kind = FACTOR_KINDS[k]
        rows.append([FACTOR_LABELS[k], Typed(r["previous_factors"][k], kind),
                     Typed(r["factors"][k], kind), att.get(k)])
    notes = [label("GMV = U × c × f × a；各因子贡献 Δ（LMDI）之和 = GMV 变化",
                   "GMV = U × c × f × a; the LMDI contributions Δ add up to the change in GMV",
                   " / ")]
    if r.get("note"):
        notes.append(r["note"])
    factors = Table(cols, rows, notes=notes)
    by_field = Table([Column(label("场域", "field")), Column("GMV", "money")],
                     [[field_label(f), v] for f, v in r["by_field"].items()],
                     title=label("场域 GMV（全部下单人）", "GMV by field (whoever ordered)"))
    return Sheet("GMV", [factors, by_field])
