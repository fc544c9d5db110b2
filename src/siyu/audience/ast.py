"""The audience tree: small immutable nodes that the text form, the JSON form and the Ibis
compiler share (:mod:`siyu.audience.parse`, :mod:`siyu.audience.jsonform`,
:mod:`siyu.audience.compile`).

Values are already validated and normalised when a node exists (gender ``男`` is stored as
``male``, segment ``沉睡客`` as ``dormant``), so two spellings of one audience are equal trees.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Node", "Term", "And", "Or", "Not", "Compare", "TagTerm", "InField", "InAudience",
           "EventAgg", "EventFilter", "Scalar", "Value", "Op", "OPS", "Unit", "UNIT_DAYS"]

Scalar = int | float | str
Value = Scalar | tuple[Scalar, ...]
Op = Literal["=", "!=", "<", "<=", ">", ">=", "in"]
OPS: tuple[str, ...] = ("=", "!=", "<", "<=", ">", ">=", "in")
Unit = Literal["d", "w"]
UNIT_DAYS: dict[str, int] = {"d": 1, "w": 7}


@dataclass(frozen=True)
class And:
    """Consumers in every one of ``items`` (two or more)."""

    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    """Consumers in at least one of ``items`` (two or more)."""

    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    """Consumers in identity_map that are not in ``item``."""

    item: Node


@dataclass(frozen=True)
class Compare:
    """``term op value`` on a per-consumer value (tier, rfm, deciles, attributes)."""

    term: str
    op: Op
    value: Value


@dataclass(frozen=True)
class TagTerm:
    """Consumers carrying tag ``name`` (with ``value`` when given)."""

    name: str
    value: str | None = None


@dataclass(frozen=True)
class InField:
    """Consumers with an active relationship in ``field`` (at ``field_ref`` when given)."""

    field: str
    field_ref: str | None = None


@dataclass(frozen=True)
class InAudience:
    """Members of the saved audience ``name`` at its last refresh."""

    name: str


@dataclass(frozen=True)
class EventFilter:
    """``name op value`` inside an event aggregate: only events that satisfy it are counted
    (``category = "抗衰老"``, ``dwell >= 180``)."""

    name: str
    op: Op
    value: Value


@dataclass(frozen=True)
class EventAgg:
    """``kind(last n unit[, filter…]) op value``: a count or sum of the events in the window
    before as_of that satisfy every filter."""

    kind: str
    n: int
    unit: Unit
    op: Op
    value: int | float
    filters: tuple[EventFilter, ...] = ()

    @property
    def days(self) -> int:
        """The window's length in days."""
        return self.n * UNIT_DAYS[self.unit]


Term = Compare | TagTerm | InField | InAudience | EventAgg
Node = And | Or | Not | Term
