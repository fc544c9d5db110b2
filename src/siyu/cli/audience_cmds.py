"""``siyu audience …``: the audience language (人群圈选, PRODUCT.md C6). Thin adapters over
:mod:`siyu.audience`. Saved audiences, refresh diffs and export are not built yet."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from siyu.cli.app import HomeOpt, JsonOpt, app, emit_json, out
from siyu.errors import UsageError
from siyu.i18n import tr

audience_app = typer.Typer(help="Audiences 人群圈选: count consumers with an expression such as "
                                "'tier >= 3 and orders(last 90d) >= 2'.",
                           no_args_is_help=True)
app.add_typer(audience_app, name="audience")

ExprArg = Annotated[str, typer.Argument(
    metavar="EXPR", help="An audience expression, e.g. 'tier >= 3 and not rfm = \"dormant\" and "
    "in_field(\"group_chat\")'. See docs/audiences.md.")]


@audience_app.command("count")
def count_cmd(
    expr: ExprArg,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", metavar="DATE", help="Evaluate at the end of this brand-local day "
        "[default: today].", show_default=False)] = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """How many consumers EXPR selects: prints the count (--json: {"count", "ms"})."""
    from siyu.audience import count
    from siyu.audience.parse import parse
    from siyu.cli.metrics_cmds import open_metrics_workspace

    tree = parse(expr)  # a syntax error is reported before the workspace is opened
    day = None
    if as_of is not None:
        try:
            day = date.fromisoformat(as_of.strip())
        except ValueError:
            raise UsageError(tr("--as-of 无法识别的日期 {t}：应写作 2025-03-31",
                                "--as-of: cannot read date {t!r}: expected 2025-03-31",
                                t=as_of)) from None
    ws = open_metrics_workspace(home)
    try:
        got = count(ws, tree, day)
    finally:
        ws.close()
    if as_json:
        emit_json(got)
    else:
        out.print(tr(f"{got['count']:,} 人（{got['ms']:.0f} 毫秒）",
                     f"{got['count']:,} consumers ({got['ms']:.0f} ms)"))


@audience_app.command("parse")
def parse_cmd(expr: ExprArg, as_json: JsonOpt = False) -> None:
    """Check EXPR and print its canonical text (--json: its JSON tree)."""
    from siyu.audience.jsonform import to_json
    from siyu.audience.parse import parse
    from siyu.audience.text import to_text

    tree = parse(expr)
    if as_json:
        emit_json(to_json(tree))
    else:
        out.print(to_text(tree), markup=False)
