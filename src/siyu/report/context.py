"""What every sheet builder is given: the workspace, the model inputs and the period of the
report, and the metric objects of :mod:`siyu.results.service` (read from the stored results
of ``siyu metrics compute`` when they are fresh, computed from the models otherwise)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Any

from siyu.config import Settings
from siyu.models.periods import Period
from siyu.models.sources import Sources


@dataclass(frozen=True)
class Context:
    ws: Any
    src: Sources
    period: Period
    generated_at: datetime
    """When the report was made (brand-local, aware)."""
    routes: dict[str, str] = field(default_factory=dict)
    """Per metric family read so far: ``stored`` or ``computed``
    (:data:`siyu.results.service.Route`)."""

    @property
    def settings(self) -> Settings:
        return self.src.settings

    @property
    def last_day(self) -> date:
        """The period's last local day: RFM and churn are snapshots at its end (end(P))."""
        return self.period.end - timedelta(days=1)

    @property
    def snapshot(self) -> datetime:
        """end(P) as a UTC instant: the snapshot of the RFM and churn sheets."""
        return self.period.end_utc

    def read(self, family: str, got: tuple[dict, str]) -> dict:
        """The object of a :mod:`siyu.results.service` call, its route noted as
        ``family``'s."""
        obj, route = got
        self.routes[family] = route
        return obj

    @cached_property
    def fast(self) -> dict:
        """``siyu metrics fast --json`` of the period (three sheets read it; read once)."""
        from siyu.results import service

        return self.read("fast", service.fast(self.ws, self.period))
