"""``siyu tag …``: tags (PRODUCT.md C5). Only the chat-scenario evaluation is built so far."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table as RichTable

from siyu.cli.app import JsonOpt, app, emit_json, out
from siyu.i18n import tr

tag_app = typer.Typer(help="Tags 标签: chat scenarios and emotions from Chinese messages "
                           "(compute, why and manual tags are not built yet).",
                      no_args_is_help=True)
app.add_typer(tag_app, name="tag")


@tag_app.command("eval")
def eval_cmd(
    dataset: Annotated[Path | None, typer.Option(
        "--dataset", metavar="FILE", help="A JSONL file of {id, text, labels, split} [default: "
        "the shipped set of hand-written messages].", show_default=False)] = None,
    lexicon: Annotated[Path | None, typer.Option(
        "--lexicon", metavar="FILE", help="A brand lexicon (TOML) merged over the built-in "
        "one.", show_default=False)] = None,
    as_json: JsonOpt = False,
) -> None:
    """Precision and recall of the chat-scenario detector per scenario, on the whole set and
    on its holdout split (messages written after the lexicon was last changed)."""
    from siyu.tags.text import evaluate, load_lexicon

    rep = evaluate(dataset, load_lexicon(lexicon) if lexicon else None)
    if as_json:
        rep = {k: v for k, v in rep.items() if k != "errors"} | {"errors": len(rep["errors"])}
        emit_json(rep)
        return
    t = RichTable(title=tr(f"聊天场景识别评估（{rep['messages']} 条）",
                           f"chat scenario evaluation ({rep['messages']} messages)"))
    for c in (tr("场景", "scenario"), tr("准确率 P", "precision"), tr("召回率 R", "recall"),
              tr("样本 n", "support"), tr("保留集 P", "holdout P"),
              tr("保留集 R", "holdout R")):
        t.add_column(c, justify="right")
    hold = rep["splits"].get("holdout", {}).get("scenarios", {})
    for name, m in rep["scenarios"].items():
        h = hold.get(name, {})
        t.add_row(name, f"{m['precision']:.2f}", f"{m['recall']:.2f}", str(m["support"]),
                  f"{h.get('precision', float('nan')):.2f}", f"{h.get('recall', float('nan')):.2f}")
    out.print(t)
