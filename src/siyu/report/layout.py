"""What a report sheet holds, before any file format: tables of typed cells.

A :class:`Sheet` is a stack of :class:`Table` blocks; each table has labelled columns whose
``kind`` decides how a value is shown (a cell may override it with :class:`Typed`, for
key–value tables whose rows mix counts, rates and money). ``None`` is an empty cell, never 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["text", "id", "int", "money", "rate", "ratio", "date", "bool"]
"""How a value is shown: ``text`` and ``id`` are text cells (an id is never read as a number),
``int`` a count with thousands separators, ``money`` yuan with 2 decimals, ``rate`` a
percentage, ``ratio`` a plain number with 2 decimals, ``date`` a calendar day."""


@dataclass(frozen=True)
class Typed:
    """A value with its own kind, overriding its column's."""

    value: Any
    kind: Kind


@dataclass(frozen=True)
class Column:
    label: str
    kind: Kind = "text"


@dataclass
class Table:
    """One block: a header row of column labels, then the rows (an optional title above and
    notes below)."""

    columns: list[Column]
    rows: list[list[Any]] = field(default_factory=list)
    title: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class Sheet:
    """A worksheet: its name (≤ 31 characters) and its tables, top to bottom. The first table's
    header row is frozen, with the first ``freeze_columns`` columns."""

    name: str
    tables: list[Table]
    freeze_columns: int = 0


def kv(label: str, value: Any, kind: Kind) -> list[Any]:
    """A key–value row: ``[label, Typed(value, kind)]``."""
    return [label, Typed(value, kind)]
