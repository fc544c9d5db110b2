"""The metric objects every surface shows (``siyu metrics … --json``, the API, the console):
read from the materialised results when they are fresh, computed from the models otherwise.
Both routes build the object with the same function, so they cannot disagree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from siyu.models.periods import Period
from siyu.results.read import fresh_periods, stored_rows, whole_rows

if TYPE_CHECKING:
    import ibis

__all__ = ["fast", "gmv", "daily", "health", "cohorts", "cohort_records", "cohorts_between", "check_cohort_grain", "rfm", "churn", "community", "Route",
           "DAILY_COLUMNS", "HEALTH", "DIMENSIONS", "COMMUNITY_METRICS", "RFM_OUT_COLUMNS"]

Route = Literal["stored", "computed"]
"""Where a metric object came from: the materialised results or the models."""


def fast(ws, period: Period, *, route: Route | None = None) -> tuple[dict, Route]:
    """``siyu metrics fast --json`` of ``period`` and where it came from; ``route="computed"``
    computes from the models even when stored results are fresh."""
    from siyu.models.fast import fast as compute
    from siyu.models.fast import fast_json

    if route != "computed":
        cells = stored_rows(ws, "transitions", [period])
        conn = stored_rows(ws, "connection", [period])
        clv = stored_rows(ws, "clv_by_tier", [period])
        if cells is not None and conn is not None and clv is not None:
            by_field = [{"field": r["key"], **r} for r in conn if r["by"] == "field"]
            by_ref = [{"field_ref": r["key"], **r} for r in conn if r["by"] == "field_ref"]
            return fast_json(str(period), cells, by_field, by_ref, clv,
                             ws.settings.clv_basis), "stored"
    from siyu.models.sources import Sources

    return compute(Sources.of(ws), period), "computed"


def gmv(ws, period: Period, *, route: Route | None = None) -> tuple[dict, Route]:
    """``siyu metrics gmv --json`` of ``period`` and where it came from (stored only when the
    period and the one before are both fresh); ``route="computed"`` as for :func:`fast`."""
    from siyu.models.gmv import gmv as compute
    from siyu.models.gmv import gmv_json

    prev = period.previous()
    if route != "computed" and {str(period), str(prev)} <= fresh_periods(ws, period.grain):
        fac = stored_rows(ws, "gmv", [period, prev])
        by = stored_rows(ws, "gmv_by_field", [period])
        if fac is not None and by is not None:
            return gmv_json(str(period), str(prev), fac, by), "stored"
    from siyu.models.sources import Sources

    return compute(Sources.of(ws), period), "computed"


# -- daily monitoring, health and cohorts (§8) ---------------------------------------------

def _round(x, digits: int = 6):
    """A JSON-ready number: NaN/None → None (a rate with no denominator is null)."""
    if x is None:
        return None
    x = float(x)
    return None if x != x else round(x, digits)


DAILY_COLUMNS = [  # JSON key, label, kind
    ("date", "日期 date", "text"),
    ("new_users", "新增用户 new users", "int"),
    ("capital", "私域关系数 capital", "int"),
    ("activity_rate", "活跃率 activity rate", "rate"),
    ("interaction_rate", "互动率 interaction rate", "rate"),
    ("conversion_rate", "转化率 conversion rate", "rate"),
    ("churn_rate", "流失率 churn rate", "rate"),
    ("group_exits", "退群 group exits", "int"),
    ("unfollows", "取关 unfollows", "int"),
]
"""The columns of ``siyu metrics daily`` (JSON key, bilingual label, kind)."""

HEALTH = {  # dimension: [(JSON key, label, kind)]
    "scale": [
        ("capital", "私域关系数 capital", "int"),
        ("capital_previous", "上期私域关系数 capital of P−1", "int"),
        ("new_users", "新增用户 new users", "int"),
        ("growth_rate", "增长率 growth rate", "rate"),
    ],
    "quality": [
        ("dau_rate", "日活率 DAU rate", "rate"),
        ("wau_rate", "周活率 WAU rate", "rate"),
        ("interaction_rate", "互动率 interaction rate", "rate"),
    ],
    "value": [
        ("buyers", "购买人数 buyers", "int"),
        ("repeat_buyers", "复购人数 repeat buyers", "int"),
        ("repurchase_rate", "复购率 repurchase rate", "rate"),
        ("previous_buyers", "上期购买人数 buyers of P−1", "int"),
        ("returning_buyers", "上期买家本期再购 buyers of P−1 back in P", "int"),
        ("next_period_repurchase_rate", "次期复购率 next-period repurchase", "rate"),
        ("orders", "订单数 orders", "int"),
        ("gmv", "私域GMV private GMV", "money"),
        ("aov", "客单价 AOV", "money"),
        ("clv_mean", "平均CLV mean CLV", "money"),
    ],
}
"""The health set of ``siyu metrics health`` by dimension (JSON key, label, kind)."""
DIMENSIONS = {"scale": "规模 scale", "quality": "质量 quality", "value": "价值 value"}


def daily(ws, days: list[Period], *, route: Route | None = None) -> tuple[dict, Route]:
    """``siyu metrics daily --json``: ``{"days": [...]}`` for the given day periods, stored
    when every one of them is (``siyu metrics compute --grain day``) and fresh."""
    records = None if route == "computed" else stored_rows(ws, "daily", days)
    got: Route = "stored"
    if records is None:
        from siyu.models.daily import daily as compute
        from siyu.models.sources import Sources

        records = compute(Sources.of(ws), days).execute().to_dict("records")
        got = "computed"
    rows = []
    for r in sorted(records, key=lambda r: r["period"]):
        row = {"date": r["period"]}
        for key, _, kind in DAILY_COLUMNS[1:]:
            row[key] = int(r[key]) if kind == "int" else _round(r[key])
        rows.append(row)
    return {"days": rows}, got


def _snapshot_rows(ws, day, family: str) -> list[dict] | None:
    """The stored, fresh rows of ``metrics_<family>`` for a period of any grain whose end is
    the end of local ``day`` (the snapshot of ``--as-of day``): the day itself, or the week,
    month, quarter or year that ends with it; None when there is none."""
    from siyu.models.periods import GRAINS, period_of

    zone = ws.settings.zone
    end = period_of(day, "day", zone).end
    for grain in GRAINS:
        p = period_of(day, grain, zone)
        if p.end == end and (rows := stored_rows(ws, family, [p])):  # None unless fresh
            return rows
    return None


def health_json(period: str, r: dict) -> dict:
    """The JSON object of ``siyu metrics health`` from one row of the health model."""
    result: dict = {"period": period}
    for dim, items in HEALTH.items():
        result[dim] = {k: int(r[k]) if kind == "int"
                       else _round(r[k], 2 if kind == "money" else 6)
                       for k, _, kind in items}
    return result


def health(ws, period: Period, *, route: Route | None = None) -> tuple[dict, Route]:
    """``siyu metrics health --json`` of ``period`` and where it came from."""
    if route != "computed":
        rows = stored_rows(ws, "health", [period])
        if rows:
            return health_json(str(period), rows[0]), "stored"
    from siyu.models.health import health as compute
    from siyu.models.sources import Sources

    r = compute(Sources.of(ws), [period]).execute().to_dict("records")[0]
    return health_json(str(period), r), "computed"


def cohort_records(ws, grain: str, start=None, end=None, *,
                   route: Route | None = None) -> tuple[list[dict], Route]:
    """The rows of :func:`siyu.models.cohorts.cohorts` of ``grain`` whose first day is in
    ``[start, end)`` (local dates; None: all), by first day: ``cohort, cohort_start, size``
    and per N of ``retention_days`` ``retained_N, retention_N``. Stored when ``siyu metrics
    compute --grain <grain>`` ran and nothing was imported or re-assigned since."""
    ns = sorted(set(ws.settings.retention_days))
    records = None if route == "computed" else whole_rows(ws, "cohorts", grain)
    if records is not None:
        records = sorted((r for r in records if (start is None or r["cohort_start"] >= start)
                          and (end is None or r["cohort_start"] < end)),
                         key=lambda r: r["cohort_start"])
        return [{**r, "cohort": r["period"]} for r in records], "stored"
    from siyu.models.cohorts import cohorts as compute
    from siyu.models.sources import Sources

    df = compute(Sources.of(ws), grain, start=start, end=end, days=ns).execute()
    return df.to_dict("records"), "computed"


def cohorts(ws, grain: str, start=None, end=None, *,
            route: Route | None = None) -> tuple[dict, Route]:
    """``siyu metrics cohorts --json``: the :func:`cohort_records` of ``grain`` whose first
    day is in ``[start, end)``, with their retention rates."""
    ns = sorted(set(ws.settings.retention_days))
    records, got = cohort_records(ws, grain, start, end, route=route)
    rows = [{"cohort": r["cohort"], "size": int(r["size"]),
             "retention": {str(n): _round(r[f"retention_{n}"]) for n in ns}}
            for r in records]
    return {"grain": grain, "cohorts": rows}, got


def check_cohort_grain(grain: str) -> None:
    """A :class:`UsageError` unless ``grain`` is a cohort grain (day, week, month)."""
    from siyu.errors import UsageError
    from siyu.i18n import tr
    from siyu.models.cohorts import COHORT_GRAINS

    if grain not in COHORT_GRAINS:
        raise UsageError(tr("未知队列粒度 {g}（可用：{ok}）", "unknown cohort grain {g} (one "
                            "of {ok})", g=grain, ok=", ".join(COHORT_GRAINS)))


def cohorts_between(ws, grain: str, first: str | None = None, last: str | None = None, *,
                    route: Route | None = None) -> tuple[dict, Route]:
    """:func:`cohorts` from the cohort of ``first``'s first day to that of ``last``'s last day
    (period names in any notation; None: unbounded), as ``siyu metrics cohorts --from --to``."""
    from datetime import timedelta

    from siyu.models.periods import parse_period, period_of

    check_cohort_grain(grain)
    zone = ws.settings.zone
    start = end = None
    if first:
        start = period_of(parse_period(first, zone=zone).start, grain, zone).start
    if last:
        q = parse_period(last, zone=zone)
        end = period_of(q.end - timedelta(days=1), grain, zone).end
    return cohorts(ws, grain, start=start, end=end, route=route)


# -- RFM (§9) and churn (§10) --------------------------------------------------------------

def rfm(ws, day, snapshot, out_file=None, *,
        route: Route | None = None) -> tuple[dict, Route]:
    """``siyu metrics rfm --json`` at the end of local ``day`` (instant ``snapshot``); with
    ``out_file`` (.csv or .parquet) also writes the per-buyer table (always computed: the
    stored results hold the segments only)."""
    from siyu.models.rfm import SEGMENT_ORDER

    records = None if route == "computed" or out_file is not None else \
        _snapshot_rows(ws, day, "rfm")
    got: Route = "stored"
    if records is None:
        from siyu.models.rfm import rfm as compute
        from siyu.models.rfm import rfm_segments
        from siyu.models.sources import Sources

        table = compute(Sources.of(ws), snapshot)
        records, got = rfm_segments(table).execute().to_dict("records"), "computed"
        if out_file is not None:
            t = table.select(*RFM_OUT_COLUMNS).order_by("consumer_id")
            out_file.parent.mkdir(parents=True, exist_ok=True)
            if out_file.suffix.lower() == ".csv":
                t.to_csv(out_file)
            else:
                t.to_parquet(out_file)
    by = {r["segment"]: r for r in records}
    total = sum(float(r["monetary"]) for r in by.values())
    segments = {}
    for code in SEGMENT_ORDER:
        r = by.get(code)
        segments[code] = {
            "count": int(r["buyers"]) if r else 0,
            "gmv": round(float(r["monetary"]), 2) if r else 0.0,
            "gmv_share": _round(r["gmv_share"]) if r else (0.0 if total > 0 else None),
        }
    buyers = sum(v["count"] for v in segments.values())
    return {"as_of": day.isoformat(), "snapshot": snapshot.isoformat(), "buyers": buyers,
            "segments": segments, "out": str(out_file) if out_file else None}, got


RFM_OUT_COLUMNS = ("consumer_id", "recency_days", "frequency", "monetary", "r", "f", "m",
                   "segment")
"""The per-buyer table of ``siyu metrics rfm --out``."""


def churn(ws, day, snapshot, *, route: Route | None = None) -> tuple[dict, Route]:
    """``siyu metrics churn --json`` at the end of local ``day`` (instant ``snapshot``)."""
    rows = None if route == "computed" else _snapshot_rows(ws, day, "churn")
    got: Route = "stored"
    if rows is not None:
        row = rows[0]
    else:
        from siyu.models.churn import churn_summary
        from siyu.models.sources import Sources

        row = churn_summary(Sources.of(ws), snapshot).execute().to_dict("records")[0]
        got = "computed"
    n = {k: int(row[k]) for k in ("private", "high_risk", "no_engaged", "unread_message",
                                  "no_view")}
    return {"as_of": day.isoformat(), "snapshot": snapshot.isoformat(),
            "private": n["private"], "high_risk": n["high_risk"], "rate": _round(row["rate"]),
            "conditions": {k: n[k] for k in ("no_engaged", "unread_message", "no_view")}}, got


# -- community (§11) -----------------------------------------------------------------------

# (column, Chinese, English, kind) in output order; kind: n count, r rate, y yuan, x ratio
COMMUNITY_METRICS: tuple[tuple[str, str, str, str], ...] = (
    ("groups", "群数", "groups", "n"),
    ("declared_groups", "登记群数", "declared groups", "n"),
    ("members", "成员", "members", "n"),
    ("memberships", "成员（按群计）", "memberships", "n"),
    ("mean_members_per_group", "平均人数/群", "mean members per group", "x"),
    ("stores", "门店数", "stores", "n"),
    ("stores_covered", "有群门店", "stores with a group", "n"),
    ("store_coverage", "门店覆盖率", "store coverage", "r"),
    ("at_capacity", "满员群", "groups at capacity", "n"),
    ("joins", "入群", "joins", "n"),
    ("messages", "发言数", "messages", "n"),
    ("writers", "发言成员", "members who wrote", "n"),
    ("active_rate", "活跃率", "active rate", "r"),
    ("interaction_ratio", "互动比", "interaction ratio", "x"),
    ("orders", "订单", "orders", "n"),
    ("gmv", "GMV", "GMV", "y"),
    ("aov", "客单价", "AOV", "y"),
    ("gmv_share", "社群占比", "share of GMV", "r"),
    ("buyers", "购买人数", "buyers", "n"),
    ("member_buyers", "购买成员", "members who bought", "n"),
    ("conversion", "转化率", "conversion", "r"),
    ("repeat_buyers", "复购人数", "repeat buyers", "n"),
    ("repurchase_rate", "复购率", "repurchase rate", "r"),
)
"""The community metrics in output order."""

GROUP_ONLY_SKIP = ("groups", "declared_groups", "memberships", "mean_members_per_group")
"""Level columns that say nothing about one group (its members are its memberships)."""


def _value(kind: str, v):
    if kind == "n":
        return 0 if v is None or v != v else int(v)
    return _round(v, 2) if kind == "y" else _round(v)


def _metrics(row: dict, joins: dict[str, int], skip: tuple[str, ...] = ()) -> dict:
    d = {col: _value(kind, row[col]) for col, _, _, kind in COMMUNITY_METRICS
         if col in row and col not in skip}
    d["joins_by_source"] = joins
    return d


def _joins(records: list[dict], key: str | None) -> dict:
    by: dict = {}
    for r in sorted(records, key=lambda r: (-int(r["joins"]), r["source"])):
        by.setdefault(r[key] if key else None, {})[r["source"]] = int(r["joins"])
    return by


def _community_stored(ws, period: Period, r: dict,
                      attrs: ibis.Table) -> tuple[dict, dict] | None:
    """The levels and joins of :func:`siyu.models.community.community` read from the stored
    results (``r``, the model's tables, not executed, gives each level's columns; ``attrs``,
    the groups' names, types and stores), or None when ``period`` is not stored and fresh."""
    from siyu.models.community import LEVEL_KEYS

    rows = stored_rows(ws, "community", [period])
    if not rows:
        return None
    joins = stored_rows(ws, "community_joins", [period]) or []
    levels: dict[str, list[dict]] = {}
    by_level: dict[str, list[dict]] = {}
    for level, key in LEVEL_KEYS.items():
        cols = set(r[level].columns)
        levels[level] = [{**{k: v for k, v in x.items() if k in cols},
                          **({key: x["key"]} if key else {})}
                         for x in rows if x["level"] == level]
        by_level[level] = [{"source": x["source"], "joins": x["joins"],
                            **({key: x["key"]} if key else {})}
                           for x in joins if x["level"] == level]
    names = {g["field_ref"]: g for g in attrs.execute().to_dict("records")}
    for g in levels["groups"]:
        a = names.get(g["field_ref"], {})
        g.update(name=a.get("name"), group_type=a.get("group_type", "normal"),
                 store_id=a.get("store_id", ""))
    return levels, by_level


def community(ws, period: Period, *, route: Route | None = None) -> tuple[dict, Route]:
    """``siyu metrics community --json`` of ``period``."""
    from siyu.models.community import GROUP_TYPES, LEVEL_KEYS, group_touchpoints
    from siyu.models.community import community as compute
    from siyu.models.sources import Sources

    src = Sources.of(ws)
    r = compute(src, period)
    got: Route = "stored"
    stored = None if route == "computed" else _community_stored(
        ws, period, r, group_touchpoints(src))
    if stored is not None:
        levels, joins = stored
    else:
        levels = {level: r[level].execute().to_dict("records") for level in LEVEL_KEYS}
        joins = {level: t.execute().to_dict("records") for level, t in r["joins"].items()}
        got = "computed"
    overall = levels["overall"][0]
    by_type = {x["group_type"]: x for x in levels["by_type"]}
    by_store = sorted(levels["by_store"], key=lambda x: x["store_id"])
    groups = sorted(levels["groups"], key=lambda x: x["field_ref"])

    j_all = _joins(joins["overall"], None).get(None, {})
    j_type = _joins(joins["by_type"], "group_type")
    j_store = _joins(joins["by_store"], "store_id")
    j_group = _joins(joins["groups"], "field_ref")
    return {
        "period": str(period),
        "group_capacity": ws.settings.group_capacity,
        "overall": _metrics(overall, j_all),
        "by_type": {t: _metrics(by_type[t], j_type.get(t, {})) for t in GROUP_TYPES},
        "by_store": [{"store_id": s["store_id"] or None,
                      **_metrics(s, j_store.get(s["store_id"], {}))} for s in by_store],
        "groups": [{"field_ref": g["field_ref"], "name": g["name"],
                    "group_type": g["group_type"], "store_id": g["store_id"] or None,
                    **_metrics(g, j_group.get(g["field_ref"], {}), GROUP_ONLY_SKIP),
                    "at_capacity": bool(g["at_capacity"])} for g in groups],
    }, got
