"""docs/cli.md, generated from the commands themselves (``make docs``; a test keeps it equal)."""

from __future__ import annotations

import typer
from typer.core import TyperArgument, TyperGroup, TyperOption


def _walk(cmd, path: list[str]):
    yield path, cmd
    if isinstance(cmd, TyperGroup):
        for name in sorted(cmd.commands):
            yield from _walk(cmd.commands[name], [*path, name])


def cli_markdown(app: typer.Typer) -> str:
    root = typer.main.get_command(app)
    lines = ["# Command reference", "",
             "Generated from the code by `make docs`; a test keeps it equal. "
             "`siyu COMMAND --help` prints the same.", ""]
    for path, cmd in _walk(root, ["siyu"]):
        if len(path) == 1:
            continue
        if getattr(cmd, "hidden", False):
            continue
        ctx = typer.Context(cmd, info_name=" ".join(path))
        usage = " ".join(cmd.collect_usage_pieces(ctx))
        lines += [f"## `{' '.join(path)}`", "", (cmd.help or "").strip(), "", "```",
                  f"{' '.join(path)} {usage}".strip(), "```", ""]
        rows = []
        for p in cmd.params:
            if isinstance(p, TyperArgument):
                rows.append((p.name.upper(), getattr(p, "help", "") or ""))
            elif isinstance(p, TyperOption) and "--help" not in p.opts:
                default = ""
                if p.default not in (None, False, "", ()) and not callable(p.default) \
                        and p.show_default is not False:
                    default = f" [default: {p.default}]"
                rows.append((", ".join(p.opts), (p.help or "") + default))
        if rows:
            lines += ["| argument / option | meaning |", "|---|---|"]
            lines += [f"| `{a}` | {h.replace('|', '/')} |" for a, h in rows]
            lines.append("")
    return "\n".join(lines)
