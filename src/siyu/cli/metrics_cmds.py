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
    metrics_daily,  # noqa: F401
    metrics_fast,  # noqa: F401
    metrics_rfm,  # noqa: F401
)
