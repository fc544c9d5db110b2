"""What every tag kind computes against: the warehouse sources, the snapshot day and instant,
and the table being built (so rules can use tags computed before them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

from siyu.models.sources import Sources

__all__ = ["TagContext", "TAG_VALUES", "TAG_CATALOG", "instant_of"]

TAG_VALUES = "tag_values"
TAG_CATALOG = "tag_catalog"


def instant_of(as_of: date, zone) -> datetime:
    """The end of brand-local day ``as_of`` (00:00 of the next day) as a UTC instant."""
    return datetime.combine(as_of + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)


@dataclass
class TagContext:
    """One computation (or explanation) of tags at the end of local day ``as_of``."""

    ws: Any
    as_of: date
    tag_table: str = TAG_VALUES
    """Where ``tag(…)`` terms of rules look: the table being built during a compute."""
    cache: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def src(self) -> Sources:
        return Sources.of(self.ws)

    @property
    def settings(self):
        return self.ws.settings

    @cached_property
    def instant(self) -> datetime:
        return instant_of(self.as_of, self.settings.zone)

    def has_table(self, name: str) -> bool:
        return self.ws.warehouse.has_table(name)

    @cached_property
    def lexicon(self):
        """The chat lexicon: built in, with the brand file of setting ``tag_lexicon``."""
        from siyu.tags.text import load_lexicon

        extra = self.settings.tag_lexicon
        if not extra:
            return load_lexicon()
        p = Path(extra)
        return load_lexicon(p if p.is_absolute() else self.ws.home / p)
