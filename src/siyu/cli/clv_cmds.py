"""``siyu clv …``: predictive CLV (BG/NBD + Gamma-Gamma), holdout evaluation, purchase cycles
and the CLV layering map (PRODUCT.md C4). Thin adapters over :mod:`siyu.value.service`."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table as RichTable

from siyu.cli.app import HomeOpt, JsonOpt, app, emit_json, out
from siyu.cli.metrics_cmds import label, open_metrics_workspace, pct
from siyu.errors import UsageError
from siyu.i18n import tr

clv_app = typer.Typer(help="Value 价值: predictive CLV, P(alive), purchase cycles and the CLV "
                           "layering map (私域人群CLV分层图).", no_args_is_help=True)
app.add_typer(clv_app, name="clv")

OutOpt = Annotated[Path | None, typer.Option(
    "--out", metavar="FILE", help="Also write the per-consumer table to FILE.csv or "
    "FILE.parquet.", show_default=False)]


def _day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(tr("{o} 无法识别的日期 {t}：应写作 2025-03-31",
                            "{o}: cannot read date {t!r}: expected 2025-03-31",
                            o=option, t=text)) from None


def _params_table(title: str, rep: dict) -> RichTable:
    t = RichTable(title=title)
    t.add_column(tr("参数", "parameter"))
    t.add_column(tr("估计值", "estimate"), justify="right")
    for k, v in rep["params"].items():
        t.add_row(k, f"{v:.4f}")
    t.add_row(label("对数似然", "log-likelihood"), f"{rep['log_likelihood']:,.2f}")
    t.add_row(label("迭代", "iterations"), str(rep["iterations"]))
    t.add_row(label("收敛", "converged"), "✓" if rep["converged"] else f"✗ {rep['message']}")
    return t


@clv_app.command("fit")
def fit_cmd(
    calibration_end: Annotated[str | None, typer.Option(
        "--calibration-end", metavar="DATE", help="Last day of the calibration window "
        "[default: the day of the latest paid order].", show_default=False)] = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Fit BG/NBD (purchases, P(alive)) and Gamma-Gamma (spend) by maximum likelihood on every
    consumer's purchase days up to --calibration-end, and save them under models/.

    A transaction is a brand-local day with paid orders; frequency = repeat days, recency and
    T in days; spend = mean of the repeat days' amounts. The report gives each model's
    parameters, log-likelihood, iterations and whether it converged, and the correlation of
    frequency and spend (Gamma-Gamma assumes none)."""
    from siyu.value.service import fit_models

    ws = open_metrics_workspace(home)
    try:
        rep = fit_models(ws, _day(calibration_end, "--calibration-end"))
    finally:
        ws.close()
    if as_json:
        emit_json(rep)
        return
    out.print(tr(f"校准期截至 {rep['calibration_end']}：{rep['consumers']:,} 名消费者，"
                 f"其中 {rep['repeat_buyers']:,} 名复购",
                 f"calibration to {rep['calibration_end']}: {rep['consumers']:,} consumers, "
                 f"{rep['repeat_buyers']:,} repeat buyers"))
    out.print(_params_table("BG/NBD", rep["bgnbd"]))
    out.print(_params_table("Gamma-Gamma", rep["gamma_gamma"]))
    corr = rep["gamma_gamma"]["frequency_spend_correlation"]
    out.print(label("频次-金额相关系数", "frequency–spend correlation") + f": {corr:.3f}"
              if corr is not None else "")


@clv_app.command("predict")
def predict_cmd(
    horizon: Annotated[int | None, typer.Option(
        "--horizon", metavar="DAYS", min=1, help="Days ahead [default: setting "
        "clv_horizon_days, 365].", show_default=False)] = None,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", metavar="DATE", help="Predict from the end of this day [default: the day of "
        "the latest paid order].", show_default=False)] = None,
    out_file: OutOpt = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Predictive CLV of every consumer with the saved models: discounted expected purchases
    over the horizon × expected spend × margin, plus predicted propagation value (realised
    propagation over the CLV window × P(alive) × horizon / window), P(alive) and churn-risk
    deciles (10 = riskiest). Written to the warehouse table clv_predictions."""
    from siyu.value.service import predict

    ws = open_metrics_workspace(home)
    try:
        rep = predict(ws, as_of=_day(as_of, "--as-of"), horizon_days=horizon, out=out_file)
    finally:
        ws.close()
    if as_json:
        emit_json(rep)
        return
    t = RichTable(title=tr(f"预测 CLV（{rep['as_of']} 起 {rep['horizon_days']:.0f} 天）",
                           f"predictive CLV ({rep['horizon_days']:.0f} days from "
                           f"{rep['as_of']})"))
    t.add_column(tr("项目", "item"))
    t.add_column(tr("值", "value"), justify="right")
    t.add_row(label("消费者", "consumers"), f"{rep['consumers']:,}")
    t.add_row(label("自有价值合计", "own CLV total"), f"{rep['clv_total']:,.2f}")
    t.add_row(label("传播价值合计", "propagation total"),
              f"{rep['predicted_propagation_total']:,.2f}")
    t.add_row(label("CLV 合计", "CLV total"), f"{rep['total']:,.2f}")
    t.add_row(label("平均存活概率", "mean P(alive)"), pct(rep["mean_p_alive"]))
    out.print(t)
    d = RichTable(title=label("流失风险十分位", "churn-risk deciles"))
    for c in (label("十分位", "decile"), label("人数", "consumers"),
              label("平均存活概率", "mean P(alive)")):
        d.add_column(c, justify="right")
    for r in rep["churn_deciles"]:
        d.add_row(str(r["decile"]), f"{r['consumers']:,}", pct(r["mean_p_alive"]))
    out.print(d)


@clv_app.command("evaluate")
def evaluate_cmd(
    calibration_end: Annotated[str, typer.Option(
        "--calibration-end", metavar="DATE", help="Last day of the calibration window.")],
    holdout_end: Annotated[str, typer.Option(
        "--holdout-end", metavar="DATE", help="Last day of the holdout window.")],
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Calibration / holdout check: fit BG/NBD on the data up to --calibration-end, predict
    each consumer's purchase days up to --holdout-end and compare with what happened, by
    calibration frequency (0, 1, …, 7+), with the total error."""
    from siyu.value.service import evaluate

    ws = open_metrics_workspace(home)
    try:
        rep = evaluate(ws, _day(calibration_end, "--calibration-end"),
                       _day(holdout_end, "--holdout-end"))
    finally:
        ws.close()
    if as_json:
        emit_json(rep)
        return
    t = RichTable(title=tr(f"保留期检验 {rep['calibration_end']} → {rep['holdout_end']}",
                           f"holdout check {rep['calibration_end']} → {rep['holdout_end']}"))
    for c in (label("校准期频次", "frequency"), label("人数", "consumers"),
              label("预测均值", "predicted mean"), label("实际均值", "actual mean")):
        t.add_column(c, justify="right")
    for r in rep["groups"]:
        t.add_row(r["frequency"], f"{r['consumers']:,}",
                  "—" if r["predicted_mean"] is None else f"{r['predicted_mean']:.3f}",
                  "—" if r["actual_mean"] is None else f"{r['actual_mean']:.3f}")
    out.print(t)


@clv_app.command("cycles")
def cycles_cmd(
    as_of: Annotated[str | None, typer.Option(
        "--as-of", metavar="DATE", help="Use purchases up to this day [default: the day of the "
        "latest paid order].", show_default=False)] = None,
    out_file: OutOpt = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Purchase cycle per consumer and category: the mean interval between purchase days,
    shrunk towards the category's median (setting cycle_prior_days), and the next-due date.
    Written to the warehouse table purchase_cycles (feeds the purchase-cycle journey)."""
    from siyu.value.service import cycles

    ws = open_metrics_workspace(home)
    try:
        rep = cycles(ws, as_of=_day(as_of, "--as-of"), out=out_file)
    finally:
        ws.close()
    if as_json:
        emit_json(rep)
        return
    out.print(tr(f"截至 {rep['as_of']}：{rep['rows']:,} 个消费者×品类（{rep['consumers']:,} 名"
                 f"消费者）；已到期 {rep['overdue']:,}，7 天内到期 {rep['due_next_7_days']:,}",
                 f"as of {rep['as_of']}: {rep['rows']:,} consumer × category rows "
                 f"({rep['consumers']:,} consumers); overdue {rep['overdue']:,}, due within "
                 f"7 days {rep['due_next_7_days']:,}"))


BAND_ORDER = ("none", "low", "mid", "high")


@clv_app.command("layers")
def layers_cmd(
    as_of: Annotated[str, typer.Option(
        "--as-of", metavar="DATE", help="Snapshot: the end of this brand-local day.")],
    compare_to: Annotated[str | None, typer.Option(
        "--compare-to", metavar="DATE", help="An earlier snapshot to compare with.",
        show_default=False)] = None,
    grain: Annotated[str, typer.Option(
        "--grain", help="Period of the tier ladder: the one containing the day, up to its end "
        "(day | week | month | quarter).")] = "month",
    treated: Annotated[Path | None, typer.Option(
        "--treated", metavar="FILE", help="Consumer ids or keys (one per line) of a campaign's "
        "treated group.", show_default=False)] = None,
    control: Annotated[Path | None, typer.Option(
        "--control", metavar="FILE", help="Consumer ids or keys of its control group.",
        show_default=False)] = None,
    treated_audience: Annotated[str | None, typer.Option(
        "--treated-audience", metavar="EXPR", help="The treated group as an audience expression "
        "(siyu audience), taken at --compare-to (else --as-of).", show_default=False)] = None,
    control_audience: Annotated[str | None, typer.Option(
        "--control-audience", metavar="EXPR", help="The control group as an audience "
        "expression.", show_default=False)] = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The CLV layering map (私域人群CLV分层图): Capital consumers by tier (1–5) × own-value
    band (none, low, mid, high: terciles of buyers) × propagator, with count, total and mean
    realised CLV per cell; with --compare-to, the change in total CLV and in the cells."""
    from siyu.models.layers import BANDS
    from siyu.models.periods import GRAINS
    from siyu.models.tiers import TIER_NAMES
    from siyu.value.service import layers

    if grain not in GRAINS:
        raise UsageError(tr("未知粒度 {g}", "unknown grain {g}", g=grain))
    for a, b, name in ((treated, treated_audience, "treated"),
                       (control, control_audience, "control")):
        if a is not None and b is not None:
            raise UsageError(tr("--{n} 与 --{n}-audience 只能二选一",
                                "give --{n} or --{n}-audience, not both", n=name))
    ws = open_metrics_workspace(home)
    try:
        rep = layers(ws, _day(as_of, "--as-of"), compare_to=_day(compare_to, "--compare-to"),
                     grain=grain, treated=treated if treated is not None else treated_audience,
                     control=control if control is not None else control_audience)
    finally:
        ws.close()
    if as_json:
        emit_json(rep)
        return
    for name, part in ((n, rep[n]) for n in ("all", "treated", "control") if n in rep):
        t = RichTable(title=tr(f"CLV 分层图 {rep['as_of']}（{name}）",
                               f"CLV layering map {rep['as_of']} ({name})"))
        for c in (label("层级", "tier"), label("自有价值", "own value"),
                  label("传播者", "propagator"), label("人数", "consumers"),
                  label("CLV 合计", "total"), label("CLV 均值", "mean")):
            t.add_column(c, justify="right")
        for r in part["cells"]:
            t.add_row(f"{r['tier']} {TIER_NAMES[r['tier']][0]}", label(*BANDS[r["band"]]),
                      "✓" if r["propagator"] else "", f"{r['consumers']:,}",
                      f"{r['total']:,.2f}", f"{r['mean']:,.2f}")
        out.print(t)
        out.print(tr(f"合计 {part['consumers']:,} 人，CLV {part['total']:,.2f}",
                     f"all: {part['consumers']:,} consumers, CLV {part['total']:,.2f}"))
    if "change" in rep:
        for name, ch in rep["change"].items():
            if isinstance(ch, dict):
                out.print(tr(f"{name}：相对 {rep['compare_to']['as_of']}，CLV 合计变化 "
                             f"{ch['total']:+,.2f}，人数变化 {ch['consumers']:+,}",
                             f"{name}: since {rep['compare_to']['as_of']}, total CLV "
                             f"{ch['total']:+,.2f}, consumers {ch['consumers']:+,}"))
