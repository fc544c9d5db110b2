"""``siyu generate``: write the realistic demo brand's files."""

from __future__ import annotations

import time
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table as RichTable

from siyu.cli.app import JsonOpt, app, emit_json, fail, out
from siyu.cli.progress import count_progress
from siyu.i18n import tr


def _parse_end(value: str | None) -> date:
    from siyu.demo import DEFAULT_END

    if value is None:
        return DEFAULT_END
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise typer.BadParameter(tr("日期格式应为 YYYY-MM-DD", "expected a date YYYY-MM-DD"),
                                 param_hint="--end") from None


@app.command()
def generate(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the files to.")],
    consumers: Annotated[int, typer.Option("--consumers", min=1,
                         help="Number of consumers.")] = 2_000,
    days: Annotated[int, typer.Option("--days", min=1,
                    help="Days of activity, ending with --end.")] = 365,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Random seed.")] = 1,
    fmt: Annotated[str, typer.Option("--format", help="parquet, csv or jsonl.")] = "parquet",
    end: Annotated[str | None, typer.Option("--end", help="Last day, YYYY-MM-DD "
                   "\\[default: 2025-12-31].", show_default=False)] = None,
    as_json: JsonOpt = False,
) -> None:
    """Generate a realistic demo brand: one file per canonical table (DOMAIN.md §2)."""
    from siyu.demo import FORMATS
    from siyu.demo import generate as run

    if fmt not in FORMATS:
        fail(tr("未知格式 {fmt}，可选：{choices}", "unknown format {fmt}; choose one of {choices}",
                fmt=fmt, choices=", ".join(FORMATS)), code=2)
    last = _parse_end(end)
    started = time.perf_counter()
    with count_progress(tr("生成消费者", "generating consumers"), consumers) as progress:
        rows = run(out_dir, consumers=consumers, days=days, seed=seed, fmt=fmt, end=last,
                   progress=progress)
    seconds = round(time.perf_counter() - started, 3)
    if as_json:
        emit_json({"out": str(out_dir), "rows": rows, "seconds": seconds})
        return
    table = RichTable(title=tr("已生成演示品牌 → {out}", "demo brand written to {out}",
                               out=out_dir), title_justify="left")
    table.add_column(tr("表", "table"))
    table.add_column(tr("行数", "rows"), justify="right")
    for name, n in rows.items():
        table.add_row(name, f"{n:,}")
    table.add_row(tr("合计", "total"), f"{sum(rows.values()):,}", style="bold")
    out.print(table)
    out.print(tr("用时 {s} 秒", "took {s} s", s=seconds))
