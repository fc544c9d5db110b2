"""The Typer application and what every command shares: ``--home``, JSON output, errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from siyu.errors import SiyuError
from siyu.i18n import tr


class _Group(TyperGroup):
    """Turns :class:`SiyuError` into a one-line message on stderr and its exit code."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except SiyuError as e:
            err.print(f"[red]{tr('错误', 'error')}:[/red] {escape(str(e))}", markup=True)
            raise typer.Exit(e.exit_code) from None


err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)

app = typer.Typer(
    name="siyu",
    cls=_Group,
    help="siyu 私域 — warehouse-native private-domain consumer operations. "
         "Set SIYU_LANG=en for English messages.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)

def _version(value: bool) -> None:
    if value:
        from siyu import __version__

        out.print(f"siyu {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """siyu 私域 — warehouse-native private-domain consumer operations."""


HomeOpt = Annotated[
    Path | None,
    typer.Option("--home", help="Workspace folder (default: found from the current folder "
                 "upwards, or $SIYU_HOME).", show_default=False),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print exactly one JSON object.")]


def open_workspace(home: Path | None, ensure: bool = True):
    """The workspace for a command; tables and migrations are brought up to date."""
    from siyu.workspace import Workspace

    ws = Workspace.open(home)
    if ensure:
        ws.ensure()
    return ws


def emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def report_check(path: Path, problems: list, as_json: bool, valid: str, **fields: Any) -> None:
    """Print the outcome of checking a user's file (:class:`siyu.yamlfile.Problem` list):
    with ``as_json`` one object ``{file, valid, **fields, problems}``, else ``valid`` or every
    problem at its line; exit code 2 when there are problems."""
    if as_json:
        emit_json({"file": str(path), "valid": not problems, **fields,
                   "problems": [p.as_json() for p in problems]})
    elif not problems:
        out.print(valid, markup=False)
    else:
        for p in problems:
            out.print(p.at(path), markup=False)
    if problems:
        raise typer.Exit(2)


def fail(message: str, code: int = 1) -> None:
    err.print(f"[red]{tr('错误', 'error')}:[/red] {message}", markup=True)
    raise typer.Exit(code)
