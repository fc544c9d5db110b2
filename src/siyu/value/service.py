"""The value service (``siyu clv …``): warehouse summaries in, fitted models, predictions,
purchase cycles and the CLV layering map out.

The numeric models of :mod:`siyu.value` know nothing of the warehouse; this module builds their
input with the Ibis models of :mod:`siyu.models.purchases`, saves fitted models under the
workspace's ``models/`` folder (with their settings and data window), and writes predictions
and cycles back into the warehouse (tables ``clv_predictions`` and ``purchase_cycles``) for
tags, audiences and the console.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from siyu.errors import SiyuError, UsageError
from siyu.i18n import tr
from siyu.models.sources import Sources
from siyu.value.bgnbd import BetaGeoModel
from siyu.value.gamma_gamma import GammaGammaModel, independence_check
from siyu.value.summary import RFMSummary

__all__ = ["data_end", "warehouse_summary", "fit_models", "load_models", "predict",
           "evaluate", "cycles", "layers", "MODELS_DIR", "PREDICTIONS", "CYCLES"]

MODELS_DIR = "models"
PREDICTIONS = "clv_predictions"
CYCLES = "purchase_cycles"
_BGNBD, _GG = "bgnbd.json", "gamma_gamma.json"


class NoPurchases(SiyuError):
    """Nothing to fit: no paid orders up to the calibration end."""

    exit_code = 1


def data_end(ws) -> date:
    """The brand-local day of the latest paid order (the default calibration end)."""
    con = ws.warehouse.raw
    rows = con.execute("SELECT max(paid_at) FROM orders WHERE status = 'paid'").fetchall()
    if rows[0][0] is None:
        raise NoPurchases(tr("仓库中没有已支付订单，无法估计价值模型",
                             "no paid orders in the warehouse: nothing to fit"))
    return rows[0][0].astimezone(ws.settings.zone).date()


def warehouse_summary(ws, calibration_end: date, *, observation_end: date | None = None
                      ) -> RFMSummary:
    """The per-consumer frequency / recency / T / monetary summary, computed in the warehouse
    (:func:`siyu.models.purchases.calibration_summary`), as the models' input."""
    from siyu.models.purchases import calibration_summary

    t = calibration_summary(Sources.of(ws), calibration_end, observation_end=observation_end)
    t = t.order_by("consumer_id").to_pyarrow()
    if t.num_rows == 0:
        raise NoPurchases(tr("{d} 及之前没有已支付订单", "no paid orders on or before {d}",
                             d=calibration_end))
    first = t["first_day"].to_pylist()
    return RFMSummary.from_arrays(
        t["frequency"].to_numpy(), t["recency"].to_numpy(), t["T"].to_numpy(),
        t["monetary"].to_numpy(), consumer_id=t["consumer_id"].to_numpy(zero_copy_only=False),
        holdout_frequency=t["holdout"].to_numpy() if observation_end else None,
        calibration_end=calibration_end, calibration_start=min(first),
        observation_end=observation_end)


def _report(model, **extra) -> dict[str, Any]:
    r = model.fit_report
    return {"params": {k: _num(v) for k, v in vars(model.params).items()},
            "log_likelihood": _num(r.log_likelihood), "iterations": r.iterations,
            "converged": r.converged, "message": r.message, "consumers": r.n_consumers,
            **extra}


def _num(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), 6)


def _need_repeat_buyers(summary: RFMSummary) -> None:
    """Both models need repeat buyers (without them the likelihood has no maximum)."""
    if int((summary.frequency > 0).sum()) < 2:
        raise NoPurchases(tr("复购（第二个购买日）的消费者少于 2 人，无法估计价值模型",
                             "fewer than 2 consumers with a repeat purchase day: the value "
                             "models cannot be fitted"))


def _fit_pair(summary: RFMSummary) -> tuple[BetaGeoModel, GammaGammaModel]:
    _need_repeat_buyers(summary)
    bg = BetaGeoModel()
    bg.fit(summary)
    gg = GammaGammaModel()
    gg.fit(summary)
    return bg, gg


def fit_models(ws, calibration_end: date | None = None) -> dict[str, Any]:
    """Fit BG/NBD and Gamma-Gamma on the summary at ``calibration_end`` (default: the day of
    the latest paid order), save both under ``models/`` and return the ``--json`` report."""
    end = calibration_end or data_end(ws)
    summary = warehouse_summary(ws, end)
    bg, gg = _fit_pair(summary)
    folder = ws.home / MODELS_DIR
    folder.mkdir(exist_ok=True)
    repeat = summary.frequency > 0
    corr = independence_check(summary.frequency[repeat], summary.monetary[repeat])
    return {
        "calibration_end": end.isoformat(),
        "consumers": len(summary),
        "repeat_buyers": int(repeat.sum()),
        "bgnbd": _report(bg, time_unit_days=bg.config.time_scale),
        "gamma_gamma": _report(gg, frequency_spend_correlation=_num(corr)),
        "saved": [str(bg.save(folder / _BGNBD)), str(gg.save(folder / _GG))],
    }


def load_models(ws) -> tuple[BetaGeoModel, GammaGammaModel]:
    """The models saved by the last ``siyu clv fit``."""
    folder = ws.home / MODELS_DIR
    if not (folder / _BGNBD).exists() or not (folder / _GG).exists():
        raise UsageError(tr("尚未拟合价值模型：请先运行 siyu clv fit",
                            "no fitted value models yet: run `siyu clv fit` first"))
    return BetaGeoModel.load(folder / _BGNBD), GammaGammaModel.load(folder / _GG)


def _realised_propagation(ws, as_of: date, ids: np.ndarray) -> np.ndarray:
    """Each consumer's realised propagation value (§6) over the CLV window ending with
    ``as_of``, in the order of ``ids`` (0 for consumers outside Capital)."""
    from siyu.models.fast import clv
    from siyu.models.periods import period_of

    day = period_of(as_of, "day", ws.settings.zone)
    c = clv(Sources.of(ws), [day])
    c = c.filter(c.propagation > 0).select("consumer_id", "propagation").to_pyarrow()
    value = dict(zip(c["consumer_id"].to_pylist(),
                     (float(v) for v in c["propagation"].to_pylist()), strict=True))
    return np.array([value.get(i, 0.0) for i in ids.tolist()], dtype=np.float64)


def predict(ws, *, as_of: date | None = None, horizon_days: float | None = None,
            out: Path | None = None) -> dict[str, Any]:
    """Predictive CLV, P(alive) and churn deciles of every consumer with a purchase up to
    ``as_of`` (default: the day of the latest paid order) with the saved models; written to
    the warehouse table ``clv_predictions`` (replaced) and, with ``out``, to a CSV or Parquet
    file. Returns the ``--json`` summary."""
    from siyu.value.clv import predictive_clv

    s = ws.settings
    bg, gg = load_models(ws)
    end = as_of or data_end(ws)
    horizon = float(horizon_days if horizon_days is not None else s.clv_horizon_days)
    summary = warehouse_summary(ws, end)
    prop = _realised_propagation(ws, end, summary.consumer_id)
    res = predictive_clv(summary, bg, gg, horizon_days=horizon,
                         discount_rate=s.clv_discount_rate, margin=s.clv_margin,
                         realised_propagation=prop, window_days=s.clv_window_days)
    table = res.to_arrow()
    table = table.append_column("as_of", pa.array([end] * table.num_rows, pa.date32()))
    _store(ws, PREDICTIONS, table)
    if out is not None:
        _write(table, out)
    deciles = [{"decile": d, "consumers": int((res.churn_decile == d).sum()),
                "mean_p_alive": _num(float(res.p_alive[res.churn_decile == d].mean()))
                if (res.churn_decile == d).any() else None} for d in range(1, 11)]
    return {"as_of": end.isoformat(), "horizon_days": horizon,
            "discount_rate": s.clv_discount_rate, "margin": s.clv_margin,
            "consumers": len(summary),
            "clv_total": round(float(res.clv.sum()), 2),
            "predicted_propagation_total": round(float(res.predicted_propagation.sum()), 2),
            "total": round(float(res.total.sum()), 2),
            "mean_p_alive": _num(float(res.p_alive.mean())),
            "churn_deciles": deciles, "table": PREDICTIONS,
            "out": str(out) if out else None}


def evaluate(ws, calibration_end: date, holdout_end: date) -> dict[str, Any]:
    """Fit on the data up to ``calibration_end`` and compare the predicted purchases in
    (calibration_end, holdout_end] with the actual ones, by calibration frequency group."""
    from siyu.value.evaluate import holdout_evaluation

    if holdout_end <= calibration_end:
        raise UsageError(tr("--holdout-end 必须晚于 --calibration-end",
                            "--holdout-end must be after --calibration-end"))
    summary = warehouse_summary(ws, calibration_end, observation_end=holdout_end)
    _need_repeat_buyers(summary)
    bg = BetaGeoModel()
    bg.fit(summary)
    ev = holdout_evaluation(bg, summary)
    groups = [{k: (_num(v) if isinstance(v, float) else v) for k, v in r.items()}
              for r in ev.rows]
    return {"calibration_end": calibration_end.isoformat(),
            "holdout_end": holdout_end.isoformat(),
            "holdout_days": (holdout_end - calibration_end).days,
            "consumers": len(summary), "bgnbd": _report(bg), "groups": groups,
            "predicted_total": _num(ev.predicted_total), "actual_total": _num(ev.actual_total),
            "total_error": _num(ev.total_error),
            "mean_absolute_error": _num(ev.mean_absolute_error)}


def cycles(ws, *, as_of: date | None = None, out: Path | None = None) -> dict[str, Any]:
    """Purchase cycles per consumer and category at ``as_of`` (default: the day of the latest
    paid order), written to ``purchase_cycles`` (replaced) and, with ``out``, to a file."""
    from siyu.models.purchases import purchase_cycles

    end = as_of or data_end(ws)
    t = purchase_cycles(Sources.of(ws), end, prior_days=ws.settings.cycle_prior_days)
    t = t.order_by(["consumer_id", "category"]).to_pyarrow()
    t = t.append_column("as_of", pa.array([end] * t.num_rows, pa.date32()))
    _store(ws, CYCLES, t)
    if out is not None:
        _write(t, out)
    soon = end + timedelta(days=7)
    due = t["next_due"].to_pylist()
    return {"as_of": end.isoformat(), "rows": t.num_rows,
            "consumers": len(set(t["consumer_id"].to_pylist())),
            "overdue": sum(1 for d in due if d is not None and d <= end),
            "due_next_7_days": sum(1 for d in due if d is not None and end < d <= soon),
            "table": CYCLES, "out": str(out) if out else None}


# -- the layering map ----------------------------------------------------------------------

def _read_ids(path: Path, ws) -> list[str]:
    """Consumer ids, or consumer keys (``type:value``, resolved through OneID), one per line
    of a text or one-column CSV file (a header ``consumer_id``/``key`` is skipped)."""
    from siyu.identity.keys import normalize_key

    if not path.exists():
        raise UsageError(tr("文件不存在：{f}", "file not found: {f}", f=path))
    lines = [ln.strip().split(",")[0].strip() for ln in
             path.read_text(encoding="utf-8-sig").splitlines()]
    lines = [x for x in lines if x and x not in ("consumer_id", "key")]
    ids, keys = [], []
    for x in lines:
        (keys if ":" in x else ids).append(x)
    if keys:
        norm, bad = [], []
        for k in keys:
            try:
                norm.append(normalize_key(k))
            except ValueError as e:
                bad.append(f"{k} ({e})")
        if bad:
            raise UsageError(tr("{f} 中有无法识别的键：{k}", "unreadable keys in {f}: {k}",
                                f=path.name, k="; ".join(bad[:5])))
        m = ws.warehouse.raw.execute(
            "SELECT DISTINCT consumer_id FROM identity_map WHERE list_contains(?, key)",
            [norm]).fetchall()
        ids += [r[0] for r in m]
    return sorted(set(ids))


def _group(ws, spec: Path | str | None, as_of: date) -> list[str] | None:
    """A group's consumer ids: a file of ids or keys (a Path), or an audience expression
    (a str, evaluated at ``as_of``)."""
    if spec is None:
        return None
    if isinstance(spec, Path):
        return _read_ids(spec, ws)
    from siyu.audience import members

    return members(ws, spec, as_of)


def layers(ws, as_of: date, *, compare_to: date | None = None, grain: str = "month",
           treated: Path | str | None = None, control: Path | str | None = None
           ) -> dict[str, Any]:
    """The CLV layering map at ``as_of`` (:mod:`siyu.models.layers`), optionally against
    ``compare_to`` and split into treated / control groups: files of consumer ids or keys
    (``Path``) or audience expressions (``str``, evaluated at ``compare_to`` when given — the
    campaign's start —, else at ``as_of``)."""
    import ibis

    from siyu.models.layers import consumer_layers, layer_cells
    from siyu.models.periods import to_date

    src = Sources.of(ws)
    groups: dict[str, list[str] | None] = {"all": None}
    chosen_at = compare_to or as_of
    if treated is not None:
        groups["treated"] = _group(ws, treated, chosen_at)
    if control is not None:
        groups["control"] = _group(ws, control, chosen_at)

    def snapshot(day: date) -> dict[str, Any]:
        window = to_date(day, grain, ws.settings.zone)  # type: ignore[arg-type]
        per = consumer_layers(src, window)
        out: dict[str, Any] = {"as_of": day.isoformat(), "tier_window": str(window)}
        for name, ids in groups.items():
            t = per if ids is None else per.filter(per.consumer_id.isin(
                ibis.memtable({"consumer_id": ids or [""]}).consumer_id))
            cells = layer_cells(t).order_by(["tier", "band", "propagator"]).to_pyarrow()
            rows = [{"tier": int(r["tier"]), "band": r["band"],
                     "propagator": bool(r["propagator"]), "consumers": int(r["consumers"]),
                     "total": round(float(r["total"]), 2), "mean": round(float(r["mean"]), 2)}
                    for r in cells.to_pylist()]
            n = sum(r["consumers"] for r in rows)
            total = round(sum(r["total"] for r in rows), 2)
            out[name] = {"consumers": n, "total": total,
                         "mean": round(total / n, 2) if n else None, "cells": rows}
        return out

    now = snapshot(as_of)
    result: dict[str, Any] = {"grain": grain, "bands": "own value terciles among buyers",
                              "basis": ws.settings.clv_basis, **now}
    if compare_to is None:
        return result
    before = snapshot(compare_to)
    result["compare_to"] = before
    result["change"] = {name: _change(before[name], now[name]) for name in groups}
    if "treated" in groups and "control" in groups:
        t, c = result["change"]["treated"], result["change"]["control"]
        result["change"]["treated_minus_control_mean"] = (
            None if t["mean"] is None or c["mean"] is None else round(t["mean"] - c["mean"], 2))
    return result


def _change(before: dict, after: dict) -> dict[str, Any]:
    """Total and mean CLV change, and each cell's change in consumers and total."""
    key = ("tier", "band", "propagator")
    b = {tuple(r[k] for k in key): r for r in before["cells"]}
    a = {tuple(r[k] for k in key): r for r in after["cells"]}
    cells = []
    for k in sorted(set(a) | set(b), key=lambda x: (x[0], ["none", "low", "mid", "high"]
                                                      .index(x[1]), x[2])):
        ra, rb = a.get(k, {}), b.get(k, {})
        cells.append({"tier": k[0], "band": k[1], "propagator": k[2],
                      "consumers": ra.get("consumers", 0) - rb.get("consumers", 0),
                      "total": round(ra.get("total", 0.0) - rb.get("total", 0.0), 2),
                      "share": _share(ra.get("consumers", 0), after["consumers"])
                      - _share(rb.get("consumers", 0), before["consumers"])})
    mean = (None if after["mean"] is None or before["mean"] is None
            else round(after["mean"] - before["mean"], 2))
    return {"consumers": after["consumers"] - before["consumers"],
            "total": round(after["total"] - before["total"], 2), "mean": mean,
            "cells": cells}


def _share(n: int, total: int) -> float:
    return round(n / total, 6) if total else 0.0


# -- storage -------------------------------------------------------------------------------

def _store(ws, table: str, data: pa.Table) -> None:
    """Replace warehouse table ``table`` with ``data`` in one transaction."""
    con = ws.warehouse.raw
    con.register("_value_rows", data)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f'CREATE OR REPLACE TABLE "{table}" AS SELECT * FROM _value_rows')
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("_value_rows")


def _write(table: pa.Table, out: Path) -> None:
    """``table`` to ``out`` (.csv or .parquet), through a temporary file."""
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise UsageError(tr("--out 须为 .csv 或 .parquet 文件：{f}",
                            "--out must be a .csv or .parquet file: {f}", f=out))
    if not out.parent.is_dir():
        raise UsageError(tr("文件夹不存在：{d}", "folder does not exist: {d}", d=out.parent))
    tmp = out.with_name(out.name + ".part")
    if suffix == ".csv":
        pcsv.write_csv(table, tmp)
    else:
        pq.write_table(table, tmp)
    tmp.replace(out)

