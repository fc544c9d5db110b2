"""``siyu metrics …``: the metric families of DOMAIN.md §5–§11. Each family's commands live in
``siyu/cli/metrics_<family>.py`` and register on :data:`metrics_app`; what they share is here."""

from __future__ import annotations

from typing import Annotated

import typer

from siyu.cli.app import app

metrics_app = typer.Typer(help="Metrics 指标: FAST+, GMV, daily health, RFM, cohorts, "
                               "community (DOMAIN.md §5–§11).", no_args_is_help=True)
app.add_typer(metrics_app, name="metrics")

PeriodOpt = Annotated[str, typer.Option(
    "--period", help="Period in its grain's notation: 2025-03-01, 2025-W09, 2025-03, 2025-Q1.")]
GrainOpt = Annotated[str | None, typer.Option(
    "--grain", help="day | week | month | quarter [default: from --period's notation]",
    show_default=False)]


RecomputeOpt = Annotated[bool, typer.Option(
    "--recompute", help="Compute from the models even when `siyu metrics compute` has stored "
                        "fresh results for it (the numbers are the same).")]


def say_route(route: str, as_json: bool) -> None:
    """Tell the user (on stderr, not with ``--json``) whether the numbers come from the stored
    results or were computed from the models just now."""
    from siyu.cli.app import err
    from siyu.i18n import tr

    if not as_json:
        err.print(tr("（来自已存储的结果）", "(from the stored results)") if route == "stored"
                  else tr("（由模型现算）", "(computed from the models)"), style="dim")


def open_metrics_workspace(home):
    """The workspace, once OneID has run (the models need ``consumer_id``); a clear error
    (exit 1) telling the user to resolve identities otherwise."""
    from siyu.cli.app import open_workspace
    from siyu.i18n import tr
    from siyu.identity import NotResolved

    ws = open_workspace(home)
    if not ws.warehouse.has_table("identity_map"):
        ws.close()
        raise NotResolved(tr("尚未合并身份（OneID），无法计算指标：请先运行 siyu identity resolve",
                             "consumers are not resolved yet, so there is nothing to measure: "
                             "run `siyu identity resolve` first"))
    return ws


def as_of_instant(ws, text: str):
    """The local day ``text`` (YYYY-MM-DD) and the snapshot instant at its end (00:00 of the
    next day in the brand's zone)."""
    from datetime import date

    from siyu.errors import UsageError
    from siyu.i18n import tr
    from siyu.models.periods import period_of

    try:
        d = date.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(tr("无法识别的日期 {t}：应写作 2025-03-31",
                            "cannot read date {t!r}: expected 2025-03-31", t=text)) from None
    return d, period_of(d, "day", ws.settings.zone).end_utc


def label(zh: str, en: str, sep: str = " ") -> str:
    """A table label: the Chinese term beside the English one (``新客 new``)."""
    return f"{zh}{sep}{en}"


def pct(x) -> str:
    """A rate for people: ``12.5%``, or ``—`` when it is null."""
    v = round_or_none(x)
    return "—" if v is None else f"{v:.1%}"


def period_arg(ws, text: str, grain: str | None):
    """The :class:`Period` named ``text`` in the workspace's zone (a clear error otherwise)."""
    from siyu.models.periods import parse_period

    return parse_period(text, grain, zone=ws.settings.zone)  # type: ignore[arg-type]


def round_or_none(x, digits: int = 6):
    """A JSON-ready number: NaN/None → None (a rate with no denominator is null)."""
    import math

    if x is None:
        return None
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else round(f, digits)


# the families register their commands on metrics_app
from siyu.cli import (  # noqa: E402
    metrics_community,  # noqa: F401
    metrics_compute,  # noqa: F401
    metrics_daily,  # noqa: F401
    metrics_fast,  # noqa: F401
    metrics_rfm,  # noqa: F401
)
