"""``siyu import`` and ``siyu loads``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table as RichTable

from siyu.cli.app import HomeOpt, JsonOpt, app, emit_json, open_workspace, out
from siyu.cli.progress import file_progress
from siyu.errors import UsageError
from siyu.i18n import tr


def _summary(results) -> None:
    rt = RichTable(title=tr("导入结果", "import results"), title_justify="left")
    for h in (tr("表", "table"), tr("读取", "read"), tr("新增", "loaded"),
              tr("重复", "duplicates"), tr("拒绝", "rejected"), tr("秒", "seconds")):
        rt.add_column(h, justify="right" if h != tr("表", "table") else "left")
    for r in results:
        rt.add_row(r.table, f"{r.read:,}", f"{r.loaded:,}", f"{r.duplicates:,}",
                   f"{r.rejected:,}", f"{r.seconds:.1f}")
    out.print(rt)
    for r in results:
        if r.rejects_file:
            out.print(tr("{t}：{n} 行被拒绝，原因见 {f}", "{t}: {n} rows rejected, reasons in {f}",
                         t=r.table, n=f"{r.rejected:,}", f=r.rejects_file))


@app.command("import")
def import_(
    table: Annotated[str | None, typer.Argument(help="Canonical table (see `siyu schema`).",
                                                show_default=False)] = None,
    files: Annotated[list[Path] | None, typer.Argument(help="Files to import.",
                                                       show_default=False)] = None,
    all_dir: Annotated[Path | None, typer.Option(
        "--all", help="Import every table file of this folder (orders.parquet, …) in "
        "dependency order.", show_default=False)] = None,
    fmt: Annotated[str | None, typer.Option(
        "--format", help="csv | jsonl | parquet | xlsx [default: from the extension]",
        show_default=False)] = None,
    encoding: Annotated[str, typer.Option(
        "--encoding", help="Text encoding of CSV/JSONL files (e.g. gb18030).")] = "utf-8",
    delimiter: Annotated[str | None, typer.Option(
        "--delimiter", help="CSV field separator [default: , (tab for .tsv)]",
        show_default=False)] = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Validate and load files into a canonical table (DOMAIN.md §2).

    Bad rows go to a rejects file (file, line, column, reason) and the good rows still load;
    rows whose id is already stored are counted as duplicates and skipped, so importing the
    same file twice adds nothing. A file that cannot be parsed at all stops the command with
    exit code 2 and nothing from it is loaded.
    """
    from siyu.ingest import import_dir, import_files

    if all_dir is not None:
        if table or files:
            raise UsageError(tr("--all 不能与表名或文件同时使用",
                                "--all takes a folder and no table or files"))
    elif not table or not files:
        raise UsageError(tr("用法：siyu import TABLE FILE... 或 siyu import --all DIR",
                            "usage: siyu import TABLE FILE... or siyu import --all DIR"))
    ws = open_workspace(home)
    try:
        with file_progress(enabled=True) as progress:
            if all_dir is not None:
                results = import_dir(ws, all_dir, fmt=fmt, encoding=encoding, progress=progress)
            else:
                results = [import_files(ws, table, files, fmt=fmt, encoding=encoding,
                                        delimiter=delimiter, progress=progress)]
    finally:
        ws.close()
    if as_json:
        if all_dir is None:
            emit_json(results[0].as_json())
        else:
            totals = {k: sum(r.as_json()[k] for r in results)
                      for k in ("read", "loaded", "duplicates", "rejected")}
            emit_json({"tables": [r.as_json() | {"seconds": round(r.seconds, 2)}
                                  for r in results], **totals})
        return
    _summary(results)


@app.command()
def loads(
    limit: Annotated[int, typer.Option("--limit", help="Most recent runs to show.")] = 20,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List recent import runs (load ids, counts, status)."""
    from sqlalchemy import select

    from siyu.ops.tables import import_runs

    ws = open_workspace(home, ensure=False)
    ws.ops.upgrade()
    with ws.ops.engine.connect() as c:
        rows = c.execute(select(import_runs).order_by(import_runs.c.started_at.desc())
                         .limit(limit)).mappings().all()
    ws.close()
    if as_json:
        emit_json({"loads": [dict(r) for r in rows]})
        return
    rt = RichTable(title=tr("导入记录", "import runs"), title_justify="left")
    for h in ("load_id", tr("表", "table"), tr("状态", "status"), tr("新增", "loaded"),
              tr("重复", "duplicates"), tr("拒绝", "rejected"), tr("来源", "source")):
        rt.add_column(h)
    for r in rows:
        rt.add_row(r["load_id"], r["table_name"], r["status"], f"{r['loaded']:,}",
                   f"{r['duplicates']:,}", f"{r['rejected']:,}", Path(r["source"]).name)
    out.print(rt)
