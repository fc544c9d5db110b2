"""The metric pages: the FAST+ dashboard, GMV waterfall, daily trends, health, RFM, cohorts,
community. Each calls :func:`siyu.web.api.metrics.family` — the JSON endpoint's own call."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Request

from siyu.web.api.metrics import family
from siyu.web.deps import get_state
from siyu.web.errors import ApiError
from siyu.web.views.pages import page_require, render

router = APIRouter()


def _default(request: Request, kind: str) -> str:
    from siyu.web.service import default_day, default_period

    st = get_state(request)
    key = ("default", kind)

    def compute():
        with st.warehouse() as ws:
            return default_period(ws) if kind == "period" else default_day(ws)

    return st.cache.get(key, compute)


def _period_of(request: Request, period: str | None) -> tuple[str, Any]:
    from siyu.models.periods import parse_period
    from siyu.web.errors import bilingual

    text = period or _default(request, "period")
    p = bilingual(parse_period, text, None, zone=get_state(request).settings.zone)
    return str(p), p


def _url(path: str, **params) -> str:
    from urllib.parse import urlencode

    q = urlencode({k: v for k, v in params.items() if v is not None})
    return f"{path}?{q}" if q else path


@router.get("/dashboard")
def dashboard(request: Request, period: str | None = None):
    user = page_require(request, "metrics")
    text, p = _period_of(request, period)
    cur = family(request, "fast", period=text, grain=None)
    prev = family(request, "fast", period=str(p.previous()), grain=None)
    last_day = (p.end - timedelta(days=1)).isoformat()
    # the CLV layering map is computed per consumer (not stored): the page fetches it from
    # its JSON endpoint after it has shown the FAST+ numbers
    return render(request, "dashboard.html", user, fast=cur, prev=prev, last_day=last_day,
                  period=text, json_url=_url("/api/v1/metrics/fast", period=text),
                  layers_url=_url("/api/v1/metrics/layers", as_of=last_day),
                  cards=_cards(cur, prev))


def _mean(values) -> float | None:
    xs = [v for v in values if v is not None]
    return sum(xs) / len(xs) if xs else None


def _cards(cur: dict, prev: dict) -> list[dict[str, Any]]:
    def change(a, b):
        if a is None or b is None:
            return None
        return a - b

    conn, conn_prev = _mean(cur["connection"].values()), _mean(prev["connection"].values())
    return [
        {"key": "capital", "zh": "可持续运营私域关系数", "en": "Capital", "value": cur["capital"],
         "prev": prev["capital"], "kind": "int",
         "change": change(cur["capital"], prev["capital"])},
        {"key": "conversion", "zh": "角色关系加深效率", "en": "Conversion",
         "value": cur["conversion"], "prev": prev["conversion"], "kind": "pct",
         "change": change(cur["conversion"], prev["conversion"])},
        {"key": "connection", "zh": "场域引力（各场域平均）", "en": "Connection (mean of fields)",
         "value": conn, "prev": conn_prev, "kind": "pct", "change": change(conn, conn_prev)},
        {"key": "clv", "zh": "角色关系价值（人均）", "en": "CLV (mean)",
         "value": cur["clv"]["mean"], "prev": prev["clv"]["mean"], "kind": "yuan",
         "change": change(cur["clv"]["mean"], prev["clv"]["mean"])},
    ]


@router.get("/gmv")
def gmv(request: Request, period: str | None = None):
    user = page_require(request, "metrics")
    text, _ = _period_of(request, period)
    data = family(request, "gmv", period=text, grain=None)
    return render(request, "gmv.html", user, gmv=data, period=text,
                  json_url=_url("/api/v1/metrics/gmv", period=text))


@router.get("/trends")
def trends(request: Request, first: str | None = None, last: str | None = None):
    user = page_require(request, "metrics")
    end = last or _default(request, "day")
    try:
        start = first or (date.fromisoformat(end) - timedelta(days=29)).isoformat()
    except ValueError:
        raise ApiError(400, "bad_request", "无法识别的日期 {d}", "cannot read date {d}",
                       d=end) from None
    data = family(request, "daily", first=start, last=end)
    return render(request, "trends.html", user, daily=data, first=start, last=end,
                  json_url=_url("/api/v1/metrics/daily", **{"from": start, "to": end}))


@router.get("/health")
def health(request: Request, period: str | None = None):
    from siyu.results.service import DIMENSIONS, HEALTH

    user = page_require(request, "metrics")
    text, _ = _period_of(request, period)
    data = family(request, "health", period=text, grain=None)
    return render(request, "health.html", user, health=data, period=text, items=HEALTH,
                  dimensions=DIMENSIONS, json_url=_url("/api/v1/metrics/health", period=text))


@router.get("/rfm")
def rfm(request: Request, as_of: str | None = None):
    from siyu.models.rfm import SEGMENTS

    user = page_require(request, "metrics")
    day = as_of or _default(request, "day")
    data = family(request, "rfm", as_of=day)
    return render(request, "rfm.html", user, rfm=data, as_of=day, names=SEGMENTS,
                  json_url=_url("/api/v1/metrics/rfm", as_of=day))


@router.get("/cohorts")
def cohorts(request: Request, grain: str = "month"):
    user = page_require(request, "metrics")
    data = family(request, "cohorts", grain=grain, first=None, last=None)
    return render(request, "cohorts.html", user, cohorts=data, grain=grain,
                  json_url=_url("/api/v1/metrics/cohorts", grain=grain))


@router.get("/community")
def community(request: Request, period: str | None = None):
    from siyu.results.service import COMMUNITY_METRICS as METRICS

    user = page_require(request, "metrics")
    text, _ = _period_of(request, period)
    data = family(request, "community", period=text, grain=None)
    return render(request, "community.html", user, community=data, period=text,
                  columns=METRICS, json_url=_url("/api/v1/metrics/community", period=text))
