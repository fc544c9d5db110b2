"""``siyu init``, ``siyu schema``, ``siyu settings``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table as RichTable

from siyu.cli.app import HomeOpt, JsonOpt, app, emit_json, out
from siyu.i18n import tr


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Folder to create the workspace in.")] = Path("."),
    brand: Annotated[str | None, typer.Option("--brand", help="Brand name.")] = None,
    timezone: Annotated[str | None, typer.Option("--timezone",
                        help="IANA time zone [default: Asia/Shanghai].")] = None,
) -> None:
    """Create a workspace: settings (siyu.toml), warehouse and operational store."""
    from siyu.workspace import Workspace

    ws = Workspace.init(directory, brand_name=brand, timezone=timezone)
    from siyu.tags.definitions import DEFINITIONS_FILE, starter_text

    if not (ws.home / DEFINITIONS_FILE).exists():  # the tag definitions, commented (docs/tags.md)
        (ws.home / DEFINITIONS_FILE).write_text(starter_text(), encoding="utf-8")
    out.print(tr("已创建工作区 {home}（品牌：{brand}，时区：{tz}）",
                 "workspace created at {home} (brand: {brand}, time zone: {tz})",
                 home=ws.home, brand=ws.settings.brand_name, tz=ws.settings.timezone))
    ws.close()


@app.command()
def schema(
    table: Annotated[str | None, typer.Argument(help="One table (default: all).")] = None,
    as_json: JsonOpt = False,
    markdown: Annotated[bool, typer.Option("--markdown",
                        help="Print the data-model document (docs/data-model.md).")] = False,
) -> None:
    """Print the canonical tables and their columns (DOMAIN.md §2)."""
    from siyu.schema import TABLES, get_table
    from siyu.schema.docs import schema_json, schema_markdown

    try:
        tables = [get_table(table)] if table else list(TABLES.values())
    except KeyError as e:
        raise typer.BadParameter(str(e.args[0]), param_hint="TABLE") from None
    if markdown:
        out.print(schema_markdown(tables), markup=False)
        return
    if as_json:
        emit_json(schema_json(tables))
        return
    for t in tables:
        rt = RichTable(title=f"{t.name} — {t.doc}", title_justify="left")
        for h in (tr("列", "column"), tr("类型", "type"), tr("必填", "required"),
                  tr("说明", "notes")):
            rt.add_column(h)
        for c in t.columns:
            notes = c.doc
            if c.values:
                notes = (notes + " " if notes else "") + "{" + ", ".join(c.values) + "}"
            rt.add_row(c.name, c.type, "✔" if c.required else "", notes)
        out.print(rt)


@app.command()
def settings(
    home: HomeOpt = None,
    as_json: JsonOpt = False,
    markdown: Annotated[bool, typer.Option("--markdown",
                        help="Print the settings reference (docs/settings.md).")] = False,
) -> None:
    """Print the effective settings of the workspace."""
    from siyu.config import settings_markdown
    from siyu.workspace import Workspace

    if markdown:
        out.print(settings_markdown(), markup=False, end="")
        return
    ws = Workspace.open(home)
    values = ws.settings.model_dump()
    if as_json:
        emit_json(values)
        return
    for k, v in values.items():
        out.print(f"{k} = {v!r}", markup=False)


@app.command("cli-reference", hidden=True)
def cli_reference() -> None:
    """Print the command reference (docs/cli.md)."""
    from siyu.cli.reference import cli_markdown

    out.print(cli_markdown(app), markup=False)
