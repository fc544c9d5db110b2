"""What every sheet builder is given: the model inputs and the period of the report."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cached_property

from siyu.config import Settings
from siyu.models.periods import Period
from siyu.models.sources import Sources


@dataclass(frozen=True)
class Context:
    src: Sources
    period: Period
    generated_at: datetime
    """When the report was made (brand-local, aware)."""

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

    @cached_property
    def fast(self) -> dict:
        """:func:`siyu.models.fast.fast` of the period (three sheets read it; computed once)."""
        from siyu.models.fast import fast

        return fast(self.src, self.period)
