"""The metric families for the API and the console: exactly the ``siyu metrics … --json``
objects, from :mod:`siyu.results.service` (stored results when fresh, the models otherwise);
this module only parses the request parameters as the CLI does and checks that identities were
resolved. ``tests/web`` checks that the API and the CLI agree.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from siyu.errors import UsageError
from siyu.i18n import tr

__all__ = ["FAMILIES", "fast", "gmv", "health", "daily", "cohorts", "rfm", "churn",
           "community", "layers", "require_resolved", "default_period", "default_day"]


def require_resolved(ws) -> None:
    from siyu.identity import NotResolved

    if not ws.warehouse.has_table("identity_map"):
        raise NotResolved(tr("尚未合并身份（OneID），无法计算指标：请先运行 siyu identity resolve",
                             "consumers are not resolved yet, so there is nothing to measure: "
                             "run `siyu identity resolve` first"))


def _period(ws, period: str, grain: str | None):
    from siyu.models.periods import parse_period

    return parse_period(period, grain, zone=ws.settings.zone)  # type: ignore[arg-type]


def _day(text: str, name: str = "as_of") -> date:
    try:
        return date.fromisoformat(text.strip())
    except (ValueError, AttributeError):
        raise UsageError(tr("{n}：无法识别的日期 {t}：应写作 2025-03-31",
                            "{n}: cannot read date {t!r}: expected 2025-03-31",
                            n=name, t=text)) from None


def _last_data_day(ws) -> date | None:
    """The brand-local day of the latest event (orders, interactions, relationships): what
    the console opens on, like ``siyu demo``'s diagnosis of the last full month."""
    from siyu.warehouse import scalar

    t = scalar(ws.warehouse.raw, """SELECT greatest(
        (SELECT max(paid_at) FROM orders), (SELECT max(occurred_at) FROM interactions),
        (SELECT max(occurred_at) FROM relationships))""")
    return t.astimezone(ws.settings.zone).date() if t is not None else None


def default_period(ws) -> str:
    """The last full month of the data (the month before the latest order's month when that
    month is not over), as ``YYYY-MM``; the current month without data."""
    from siyu.models.periods import period_of

    last = _last_data_day(ws)
    if last is None:
        return date.today().strftime("%Y-%m")
    return str(period_of(last + timedelta(days=1), "month", ws.settings.zone).previous())


def default_day(ws) -> str:
    last = _last_data_day(ws)
    return (last or date.today()).isoformat()


# -- the families (JSON as `siyu metrics <family> --json`, from siyu.results.service) --------

def fast(ws, period: str, grain: str | None = None) -> dict[str, Any]:
    from siyu.results import service

    require_resolved(ws)
    return service.fast(ws, _period(ws, period, grain))[0]


def gmv(ws, period: str, grain: str | None = None) -> dict[str, Any]:
    from siyu.results import service

    require_resolved(ws)
    return service.gmv(ws, _period(ws, period, grain))[0]


def health(ws, period: str, grain: str | None = None) -> dict[str, Any]:
    from siyu.results import service

    require_resolved(ws)
    return service.health(ws, _period(ws, period, grain))[0]


MAX_DAYS = 366


def daily(ws, first: str, last: str | None = None) -> dict[str, Any]:
    from siyu.models.periods import periods_between
    from siyu.results import service

    require_resolved(ws)
    days = periods_between(first, last or first, "day", zone=ws.settings.zone)
    if not days:
        raise UsageError(tr("to 早于 from", "to is before from"))
    if len(days) > MAX_DAYS:
        raise UsageError(tr("最多 {n} 天", "at most {n} days", n=MAX_DAYS))
    return service.daily(ws, days)[0]


def cohorts(ws, grain: str = "day", first: str | None = None,
            last: str | None = None) -> dict[str, Any]:
    from siyu.results import service

    service.check_cohort_grain(grain)
    require_resolved(ws)
    return service.cohorts_between(ws, grain, first, last)[0]


def _snapshot(ws, as_of: str):
    from siyu.models.periods import period_of

    d = _day(as_of)
    return d, period_of(d, "day", ws.settings.zone).end_utc


def rfm(ws, as_of: str) -> dict[str, Any]:
    from siyu.results import service

    require_resolved(ws)
    return service.rfm(ws, *_snapshot(ws, as_of))[0]


def churn(ws, as_of: str) -> dict[str, Any]:
    from siyu.results import service

    require_resolved(ws)
    return service.churn(ws, *_snapshot(ws, as_of))[0]


def community(ws, period: str, grain: str | None = None) -> dict[str, Any]:
    from siyu.results import service

    require_resolved(ws)
    return service.community(ws, _period(ws, period, grain))[0]


def layers(ws, as_of: str, compare_to: str | None = None,
           grain: str = "month") -> dict[str, Any]:
    from siyu.models.periods import GRAINS
    from siyu.value.service import layers as model

    if grain not in GRAINS:
        raise UsageError(tr("未知粒度 {g}", "unknown grain {g}", g=grain))
    require_resolved(ws)
    return model(ws, _day(as_of), compare_to=_day(compare_to, "compare_to") if compare_to
                 else None, grain=grain)


FAMILIES = {"fast": fast, "gmv": gmv, "health": health, "daily": daily, "cohorts": cohorts,
            "rfm": rfm, "churn": churn, "community": community, "layers": layers}
"""Family name → function ``(ws, **params) -> dict``."""
