"""``siyu metrics fast`` (FAST+, DOMAIN.md §5–§6) and ``siyu metrics gmv`` (§7)."""

from __future__ import annotations

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
    say_route,
)
from siyu.i18n import tr

REF_ROWS = 20
"""Touchpoints shown in the readable Connection table (``--json`` has them all)."""


def _compute(home, period: str, grain: str | None, family, recompute: bool, as_json: bool):
    """``family(ws, P)`` of :mod:`siyu.results.service`: the stored results when fresh, the
    models otherwise (identities must have been resolved); says which unless ``as_json``."""
    ws = open_metrics_workspace(home)
    try:
        p = period_arg(ws, period, grain)
        r, route = family(ws, p, route="computed" if recompute else None)
    finally:
        ws.close()
    say_route(route, as_json)
    return r


def _yuan(x) -> str:
    if x is None:
        return "—"
    return f"-¥{-x:,.2f}" if x < 0 else f"¥{x:,.2f}"


FIELD_LABELS = {
    "shop": "店铺关注", "membership": "会员", "group_chat": "社群", "live_room": "直播间",
    "guide": "导购企微", "customer_service": "专属客服", "mini_program": "小程序",
    "official_account": "公众号", "subscription": "订阅号", "video_channel": "视频号",
    "store": "门店", "app": "App",
}
"""Chinese names of the fields (场域, DOMAIN.md §2), shown beside the identifiers."""


def _field_label(f: str) -> str:
    if f == "none":
        return "（无场域） none"
    return f"{FIELD_LABELS.get(f, '')} {f}".strip()


def _tier_label(t: int) -> str:
    from siyu.models.tiers import TIER_NAMES

    zh, en = TIER_NAMES[t]
    return f"{t} {zh} {en}"


def _kv_table(title: str, rows: list[tuple[str, str]]) -> RichTable:
    t = RichTable(title=title, title_justify="left", show_header=False)
    t.add_column()
    t.add_column(justify="right")
    for k, v in rows:
        t.add_row(k, v)
    return t


@metrics_app.command("fast")
def fast_cmd(period: PeriodOpt, grain: GrainOpt = None, home: HomeOpt = None,
             as_json: JsonOpt = False, recompute: RecomputeOpt = False) -> None:
    """FAST+ of a period: Capital, Conversion with the tier transition matrix P−1 → P,
    Connection per field and touchpoint, and CLV (DOMAIN.md §5–§6)."""
    from siyu.results.service import fast

    r = _compute(home, period, grain, fast, recompute, as_json)
    if as_json:
        emit_json(r)
        return
    print_fast(r)


def print_fast(r: dict) -> None:
    """The FAST+ diagnosis as rich tables (what `siyu metrics fast` and `siyu demo` show)."""
    from siyu.models.fast import TIER_KEYS

    clv = r["clv"]
    basis = tr("毛利", "gross profit") if clv["basis"] == "profit" else tr("实付金额", "amount")
    out.print(_kv_table(f"FAST+ {r['period']}", [
        ("可持续运营私域关系数 Capital", f"{r['capital']:,}"),
        ("关系加深人数 deepened", f"{r['deepened']:,}"),
        ("角色关系加深效率 Conversion", pct(r["conversion"])),
        (f"角色关系价值 CLV ({tr('人均', 'mean')}, {basis})", _yuan(clv["mean"])),
        (f"CLV {tr('合计', 'total')}", _yuan(clv["total"])),
    ]))

    tt = RichTable(title=tr("关系层级（期末）", "tiers at end of period"), title_justify="left")
    tt.add_column(tr("层级", "tier"))
    tt.add_column(tr("人数", "consumers"), justify="right")
    tt.add_column(tr("人均 CLV", "mean CLV"), justify="right")
    for t in range(1, 6):
        tt.add_row(_tier_label(t), f"{r['tiers'][TIER_KEYS[t]]:,}",
                   _yuan(clv["by_tier"][str(t)]))
    out.print(tt)

    mt = RichTable(title=tr("层级迁移矩阵（行：上期末，列：本期末）",
                            "tier transitions (rows: end of P−1, columns: end of P)"),
                   title_justify="left")
    mt.add_column("P−1 \\ P")
    for t in range(6):
        mt.add_column(str(t), justify="right")
    for b, row in enumerate(r["transitions"]):
        mt.add_row(_tier_label(b), *[f"{n:,}" for n in row])
    out.print(mt)
    out.print(tr("(0, 0) 格按定义为 0：只计两期中至少一期在私域内的消费者",
                 "cell (0, 0) is 0 by construction: only consumers in the private domain at "
                 "one of the two ends are counted"), markup=False)

    ct = RichTable(title="场域引力 Connection", title_justify="left")
    ct.add_column(tr("场域", "field"))
    ct.add_column(tr("访客中私域占比", "private share of visitors"), justify="right")
    for f, rate in r["connection"].items():
        ct.add_row(_field_label(f), pct(rate))
    out.print(ct)

    refs = sorted(r["connection_by_ref"].items(), key=lambda kv: (-kv[1], kv[0]))
    if refs:
        rt = RichTable(title=tr("触点引力（前 {n} 个）", "Connection per touchpoint (top {n})",
                                n=min(REF_ROWS, len(refs))), title_justify="left")
        rt.add_column("field_ref")
        rt.add_column(tr("访客中私域占比", "private share of visitors"), justify="right")
        for ref, rate in refs[:REF_ROWS]:
            rt.add_row(ref, pct(rate))
        out.print(rt)
        if len(refs) > REF_ROWS:
            out.print(tr("另有 {n} 个触点；用 --json 查看全部", "{n} more touchpoints; --json has "
                         "them all", n=len(refs) - REF_ROWS), markup=False)


FACTOR_LABELS = {
    "users": "用户数 users (U)",
    "conversion": "转化率 conversion (c)",
    "frequency": "购买频次 frequency (f)",
    "aov": "客单价 AOV (a)",
}


def _factor(name: str, x) -> str:
    if x is None:
        return "—"
    if name == "users":
        return f"{x:,}"
    if name == "conversion":
        return pct(x)
    if name == "frequency":
        return f"{x:.3f}"
    return _yuan(x)


@metrics_app.command("gmv")
def gmv_cmd(period: PeriodOpt, grain: GrainOpt = None, home: HomeOpt = None,
            as_json: JsonOpt = False, recompute: RecomputeOpt = False) -> None:
    """Private-domain GMV of a period, GMV by field, the factors U × c × f × a and the LMDI
    attribution of the change from the previous period (DOMAIN.md §7)."""
    from siyu.models.gmv import FACTORS
    from siyu.results.service import gmv

    r = _compute(home, period, grain, gmv, recompute, as_json)
    if as_json:
        emit_json(r)
        return
    out.print(_kv_table(f"私域 GMV private-domain GMV {r['period']}", [
        (f"GMV {r['period']}", _yuan(r["gmv"])),
        (f"GMV {r['previous']}", _yuan(r["previous_gmv"])),
        (tr("变化", "change"), _yuan(r["change"])),
    ]))

    ft = RichTable(title=tr("因子分解 GMV = U × c × f × a 与 LMDI 归因",
                            "factors GMV = U × c × f × a and LMDI attribution"),
                   title_justify="left")
    ft.add_column(tr("因子", "factor"))
    ft.add_column(r["previous"], justify="right")
    ft.add_column(r["period"], justify="right")
    ft.add_column(tr("贡献 Δ", "contribution Δ"), justify="right")
    att = r["attribution"]
    for k in FACTORS:
        ft.add_row(FACTOR_LABELS[k], _factor(k, r["previous_factors"][k]),
                   _factor(k, r["factors"][k]), _yuan(att[k]) if att else "—")
    out.print(ft)
    if r.get("note"):
        out.print(r["note"], markup=False)

    bt = RichTable(title=tr("场域 GMV（全部下单人）", "GMV by field (whoever ordered)"),
                   title_justify="left")
    bt.add_column(tr("场域", "field"))
    bt.add_column("GMV", justify="right")
    for f, v in sorted(r["by_field"].items(), key=lambda kv: -kv[1]):
        if v:
            bt.add_row(_field_label(f), _yuan(v))
    out.print(bt)
