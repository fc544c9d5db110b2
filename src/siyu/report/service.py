"""``write_report``: every metric family of one period into one formatted .xlsx workbook."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from siyu.errors import SiyuError, UsageError
from siyu.i18n import tr
from siyu.models.periods import Grain, Period, parse_period
from siyu.report.context import Context
from siyu.report.layout import Sheet
from siyu.report.sheets_community import community_sheet
from siyu.report.sheets_fast import (
    connection_sheet,
    fast_sheet,
    gmv_sheet,
    overview,
    transitions_sheet,
)
from siyu.report.sheets_ops import (
    churn_sheet,
    cohorts_sheet,
    daily_sheet,
    health_sheet,
    rfm_sheet,
)

__all__ = ["write_report", "check_out", "BUILDERS", "SHEET_NAMES"]

BUILDERS: tuple[Callable[[Context], Sheet], ...] = (
    overview, fast_sheet, transitions_sheet, connection_sheet, gmv_sheet, daily_sheet,
    health_sheet, rfm_sheet, churn_sheet, cohorts_sheet, community_sheet,
)
"""One builder per sheet, in workbook order."""

SHEET_NAMES: tuple[str, ...] = (
    "概览 Overview", "FAST+", "转化矩阵 Transitions", "连接 Connection", "GMV", "日监控 Daily",
    "健康 Health", "RFM", "流失 Churn", "留存 Cohorts", "社群 Community",
)
"""The worksheet names, in order (the builders' ``Sheet.name``)."""

Progress = Callable[[int, int], None]
"""``(sheets done, sheets in all)``, called after each sheet is computed."""


def check_out(out_path: Path | str, force: bool) -> Path:
    """The absolute target path, once it is a writable place for a new report: an ``.xlsx``
    name, in a folder that exists, not an existing file unless ``force``."""
    out = Path(out_path).expanduser().absolute()
    if out.suffix.lower() != ".xlsx":
        raise UsageError(tr("--out 须为 .xlsx 文件：{f}", "--out must be an .xlsx file: {f}",
                            f=out))
    if not out.parent.is_dir():
        raise UsageError(tr("文件夹不存在：{d}（请先创建）", "folder does not exist: {d} "
                            "(create it first)", d=out.parent))
    if out.is_dir():
        raise UsageError(tr("{f} 是文件夹", "{f} is a folder", f=out))
    if out.exists() and not force:
        raise _exists(out)
    return out


def _exists(out: Path) -> SiyuError:
    return SiyuError(tr("{f} 已存在；加 --force 覆盖", "{f} already exists; add --force to "
                        "overwrite it", f=out))


def write_report(ws, period: Period | str, out_path: Path | str, *, grain: Grain | None = None,
                 force: bool = False, progress: Progress | None = None) -> dict:
    """Every metric family of ``period`` (a :class:`Period`, or its name in any grain's
    notation, with ``grain`` to insist on one) on workspace ``ws`` — identities must have been
    resolved — written to the workbook ``out_path``, one sheet per family. Each family is read
    as its ``siyu metrics … --json`` reads it (:mod:`siyu.results.service`): from the stored
    results of ``siyu metrics compute`` when they are fresh, else computed from the models
    (the daily sheet and the day cohorts are stored by ``--grain day`` only).

    The file is written atomically (nothing is left behind on failure; a failure to write is a
    :class:`SiyuError`) and an existing file is replaced only with ``force``. Returns
    ``{"out", "period", "sheets", "routes"}``; ``routes`` says per family (fast, gmv, daily,
    health, rfm, churn, cohorts, community) whether it was ``stored`` or ``computed``."""
    from siyu.models.sources import Sources
    from siyu.report.xlsx import save_atomically, workbook

    zone = ws.settings.zone
    p = period if isinstance(period, Period) else parse_period(period, grain, zone=zone)
    out = check_out(out_path, force)
    ctx = Context(ws, Sources.of(ws), p, datetime.now(zone))
    sheets: list[Sheet] = []
    for build in BUILDERS:
        sheets.append(build(ctx))
        if progress is not None:
            progress(len(sheets), len(BUILDERS))
    wb = workbook(sheets, title=f"{ws.settings.brand_name} {p}")
    try:
        save_atomically(wb, out, replace=force)
    except FileExistsError:  # it appeared while the report was computed
        raise _exists(out) from None
    except OSError as e:  # no space, no permission…: nothing was left behind
        raise SiyuError(tr("无法写入 {f}：{e}", "cannot write {f}: {e}", f=out,
                           e=e.strerror or e)) from e
    return {"out": str(out), "period": str(p), "sheets": [s.name for s in sheets],
            "routes": dict(ctx.routes)}
