"""Render :class:`~siyu.report.layout.Sheet` s into an .xlsx workbook (openpyxl) and save it
atomically: a temporary file in the target folder, renamed over the target at the end, so a
failure leaves no half-written file.

Formatting: a bold, filled header row per table (the first one frozen), column widths fitted to
the content, counts with thousands separators, money with 2 decimals, rates as percentages,
ids as text, ``None`` (and NaN) as an empty cell.
"""

from __future__ import annotations

import math
import os
import tempfile
import unicodedata
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from siyu.report.layout import Kind, Sheet, Table, Typed

__all__ = ["FORMATS", "workbook", "save_atomically", "cell_value"]

FORMATS: dict[str, str] = {
    "text": "@",
    "id": "@",
    "int": "#,##0",
    "money": "#,##0.00",
    "rate": "0.0%",
    "ratio": "#,##0.00",
    "date": "yyyy-mm-dd",
    "bool": "General",
}
"""Excel number format of each :data:`~siyu.report.layout.Kind`."""

HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
HEADER_BORDER = Border(bottom=Side(style="thin", color="8EA9C1"))
TITLE_FONT = Font(bold=True, size=12)
NOTE_FONT = Font(italic=True, color="595959")
MAX_WIDTH = 60


def cell_value(value: Any, kind: Kind) -> Any:
    """The value as stored in the cell: ``None``/NaN → None (an empty cell), numbers as plain
    Python numbers, text and ids as ``str``, dates as :class:`date`."""
    if value is None:
        return None
    if hasattr(value, "item") and not isinstance(value, str | bytes):  # numpy scalar
        value = value.item()
    if isinstance(value, float | Decimal) and not math.isfinite(float(value)):
        return None
    if kind in ("text", "id"):
        return str(value)
    if kind == "date":
        if isinstance(value, datetime):
            return value.date()
        return value if isinstance(value, date) else date.fromisoformat(str(value))
    if kind == "bool":
        return bool(value)
    if isinstance(value, Decimal):
        return float(value)
    return value


def _shown(value: Any, kind: Kind) -> str:
    """Roughly the text Excel shows (to fit column widths)."""
    if value is None:
        return ""
    if kind == "int" and isinstance(value, int | float):
        return f"{value:,.0f}"
    if kind in ("money", "ratio") and isinstance(value, int | float):
        return f"{value:,.2f}"
    if kind == "rate" and isinstance(value, int | float):
        return f"{value:.1%}"
    if kind == "bool":
        return "FALSE"
    return str(value)


def _width(text: str) -> int:
    """Display width: CJK (wide) characters count 2."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _write_table(ws, t: Table, row: int, widths: dict[int, int]) -> tuple[int, int]:
    """Write ``t`` from ``row``; the row of its header and the first free row after it."""
    if t.title:
        ws.cell(row=row, column=1, value=t.title).font = TITLE_FONT
        row += 1
    header = row
    for j, col in enumerate(t.columns, start=1):
        c = ws.cell(row=row, column=j, value=col.label)
        c.font, c.fill, c.border = HEADER_FONT, HEADER_FILL, HEADER_BORDER
        c.alignment = Alignment(vertical="center")
        widths[j] = max(widths.get(j, 0), _width(col.label))
    for values in t.rows:
        row += 1
        for j, (col, raw) in enumerate(zip(t.columns, values, strict=True), start=1):
            kind = col.kind
            if isinstance(raw, Typed):
                raw, kind = raw.value, raw.kind
            v = cell_value(raw, kind)
            c = ws.cell(row=row, column=j, value=v)
            if v is not None:
                c.number_format = FORMATS[kind]
            widths[j] = max(widths.get(j, 0), _width(_shown(v, kind)))
    for note in t.notes:
        row += 1
        ws.cell(row=row, column=1, value=note).font = NOTE_FONT
    return header, row + 1


def workbook(sheets: list[Sheet], *, title: str = "") -> Workbook:
    """A workbook with one worksheet per :class:`Sheet`, in order."""
    wb = Workbook()
    wb.remove(wb.active)
    wb.properties.creator = "siyu"
    wb.properties.title = title
    for s in sheets:
        ws = wb.create_sheet(s.name)
        widths: dict[int, int] = {}
        row = 1
        for i, t in enumerate(s.tables):
            header, row = _write_table(ws, t, row, widths)
            if i == 0:
                ws.freeze_panes = ws.cell(row=header + 1, column=s.freeze_columns + 1)
            row += 1  # a blank row between tables
        for j, w in widths.items():
            ws.column_dimensions[get_column_letter(j)].width = min(w + 2, MAX_WIDTH)
    return wb


def save_atomically(wb: Workbook, out: Path, *, replace: bool) -> None:
    """Save ``wb`` to ``out`` through a temporary file in the same folder, renamed at the end.

    With ``replace`` false an ``out`` that appeared meanwhile is not overwritten
    (:class:`FileExistsError`). The temporary file is removed on any failure."""
    fd, name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.stem}.", suffix=".xlsx.part")
    os.close(fd)
    tmp = Path(name)
    try:
        wb.save(tmp)
        tmp.chmod(0o666 & ~_umask())  # mkstemp's file is private (0600); a report is not
        if replace:
            os.replace(tmp, out)
        else:
            _rename_new(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _rename_new(tmp: Path, out: Path) -> None:
    """Rename ``tmp`` to ``out`` unless ``out`` exists (atomically where hard links work)."""
    try:
        os.link(tmp, out)  # fails when out exists, never overwrites
    except FileExistsError:
        raise
    except OSError:  # no hard links on this file system: check, then rename
        if out.exists():
            raise FileExistsError(str(out)) from None
        os.replace(tmp, out)
