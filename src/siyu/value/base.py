"""The contract every predictive value model follows (BG/NBD, Gamma-Gamma and later ones).

A model is built from a typed, frozen config (defaults documented on its fields, overridable
by keyword), fitted on an :class:`~siyu.value.summary.RFMSummary` by maximum likelihood, and
then answers predictions with keyword-only horizons::

    model = BetaGeoModel(time_scale=7)      # config merged over the defaults
    params = model.fit(summary)             # frozen params dataclass; model.fit_report
    model.save("bgnbd.json")                # params, config, data window, hash, version
    again = BetaGeoModel.load("bgnbd.json")

The JSON file holds ``format`` (``"siyu.value.model"``), ``format_version``, ``model``
(the model's name), ``params``, ``config``, ``fit`` (the :class:`FitReport`), ``data``
(the :class:`DataWindow`: calibration start and end, consumers, summary hash) and
``siyu_version``. :meth:`ValueModel.load` refuses a file of another format, version or model,
and params or config with missing or unknown fields.

Fitting: every model maximises its log-likelihood over the logarithms of its (positive)
parameters with L-BFGS-B and an analytic gradient (:func:`fit_log_params`).
"""

from __future__ import annotations

import dataclasses
import json
import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Generic, Self, TypeVar

import numpy as np
from scipy.optimize import minimize

from siyu import __version__
from siyu.errors import SiyuError
from siyu.value.summary import RFMSummary

__all__ = ["FORMAT", "FORMAT_VERSION", "DataWindow", "FitConfig", "FitReport",
           "ModelFormatError", "NotFittedError", "ValueModel", "fit_log_params"]

FORMAT = "siyu.value.model"
FORMAT_VERSION = 1

P = TypeVar("P")
C = TypeVar("C", bound="FitConfig")


class ModelFormatError(SiyuError):
    """A saved model file that is not one this version of siyu can read."""


class NotFittedError(SiyuError):
    """A prediction asked of a model that has no parameters yet (fit or load it first)."""


@dataclass(frozen=True)
class FitConfig:
    """Optimiser settings shared by every model."""

    max_iterations: int = 1000
    """Most L-BFGS-B iterations."""
    tolerance: float = 1e-14
    """L-BFGS-B stops when an iteration improves the mean log-likelihood by less than this,
    relatively (``ftol``); near machine precision so the optimum is found as closely as
    floating point allows."""
    gradient_tolerance: float = 1e-6
    """Converged when every component of the gradient of the mean log-likelihood over the
    log-parameters is below this (L-BFGS-B also stops early below it). Parameter error is
    then about gradient / curvature, far below the sampling error of any real data."""


@dataclass(frozen=True)
class FitReport:
    """How a fit went."""

    log_likelihood: float
    """Total log-likelihood at the estimate (in the model's time unit)."""
    iterations: int
    evaluations: int
    """Evaluations of the log-likelihood and its gradient."""
    converged: bool
    message: str
    n_consumers: int
    """Consumers that entered the likelihood."""


@dataclass(frozen=True)
class DataWindow:
    """The data a model was fitted on."""

    calibration_start: str | None
    calibration_end: str | None
    n_consumers: int
    summary_hash: str

    @classmethod
    def of(cls, summary: RFMSummary) -> DataWindow:
        return cls(_iso(summary.calibration_start), _iso(summary.calibration_end),
                   len(summary), summary.digest())


def fit_log_params(neg_mean_ll: Callable[[np.ndarray], tuple[float, np.ndarray]],
                   start: np.ndarray, config: FitConfig, n_total: float) -> tuple[
                       np.ndarray, FitReport]:
    """Minimise ``neg_mean_ll(θ) → (value, gradient)`` over θ = log(parameters) with
    L-BFGS-B (θ bounded to [−25, 25] so no parameter over- or underflows).

    L-BFGS-B may stop with an "abnormal line search" at an optimum it cannot improve in
    floating point; the fit counts as converged when the largest gradient component is below
    ``config.gradient_tolerance`` (after one more BFGS pass if it was not).
    """
    bounds = [(-25.0, 25.0)] * len(start)
    opts = {"maxiter": config.max_iterations, "ftol": config.tolerance,
            "gtol": config.gradient_tolerance * 1e-3, "maxls": 50}
    res = minimize(neg_mean_ll, start, jac=True, method="L-BFGS-B", bounds=bounds,
                   options=opts)
    theta, nit, nfev, message = res.x, int(res.nit), int(res.nfev), str(res.message)
    value, grad = neg_mean_ll(theta)
    if not np.max(np.abs(grad)) < config.gradient_tolerance:
        res2 = minimize(neg_mean_ll, theta, jac=True, method="BFGS",
                        options={"maxiter": config.max_iterations,
                                 "gtol": config.gradient_tolerance})
        if np.all(np.isfinite(res2.x)) and res2.fun <= value:
            theta, value, grad = res2.x, float(res2.fun), res2.jac
            nit, nfev = nit + int(res2.nit), nfev + int(res2.nfev)
            message = f"{message}; BFGS: {res2.message}"
    converged = bool(np.isfinite(value) and np.max(np.abs(grad)) < config.gradient_tolerance
                     and np.all(np.abs(theta) < 25.0))
    report = FitReport(log_likelihood=float(-value * n_total), iterations=nit, evaluations=nfev,
                       converged=converged, message=message, n_consumers=int(n_total))
    return theta, report


class ValueModel(ABC, Generic[P, C]):
    """Base of the predictive value models: config, fit, params, save/load."""

    name: ClassVar[str]
    params_type: ClassVar[type]
    config_type: ClassVar[type]

    def __init__(self, config: C | None = None, **overrides: Any) -> None:
        base = config if config is not None else self.config_type()
        self.config: C = dataclasses.replace(base, **overrides)
        self._params: P | None = None
        self.fit_report: FitReport | None = None
        self.data: DataWindow | None = None

    @classmethod
    def from_params(cls, params: P, config: C | None = None, **overrides: Any) -> Self:
        """A model with known parameters (no fit): simulations, saved estimates."""
        model = cls(config, **overrides)
        model._params = params
        return model

    @property
    def params(self) -> P:
        if self._params is None:
            raise NotFittedError(f"the {self.name} model is not fitted: fit or load it first")
        return self._params

    @property
    def is_fitted(self) -> bool:
        return self._params is not None

    def fit(self, summary: RFMSummary) -> P:
        """Maximum-likelihood estimate on ``summary``; sets ``params``, ``fit_report`` and
        ``data`` and returns the params."""
        params, report = self._fit(summary)
        self._params, self.fit_report, self.data = params, report, DataWindow.of(summary)
        return params

    @abstractmethod
    def _fit(self, summary: RFMSummary) -> tuple[P, FitReport]: ...

    # ---- persistence --------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "model": self.name,
            "params": dataclasses.asdict(self.params),
            "config": dataclasses.asdict(self.config),
            "fit": _asdict(self.fit_report),
            "data": _asdict(self.data),
            "siyu_version": __version__,
        }

    def save(self, path: str | Path) -> Path:
        """Write the model as JSON to ``path`` (parent folders are created)."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n",
                     encoding="utf-8")
        return p

    @classmethod
    def load(cls, path: str | Path) -> Self:
        """Read a model written by :meth:`save`, checking its format."""
        try:
            doc = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise ModelFormatError(f"{path}: not a readable model file ({e})") from e
        return cls.from_dict(doc, source=str(path))

    @classmethod
    def from_dict(cls, doc: Any, *, source: str = "model") -> Self:
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise ModelFormatError(f"{source}: not a siyu value model (format {FORMAT!r})")
        if doc.get("format_version") != FORMAT_VERSION:
            raise ModelFormatError(f"{source}: format version {doc.get('format_version')!r}, "
                                   f"this siyu reads {FORMAT_VERSION}")
        if doc.get("model") != cls.name:
            raise ModelFormatError(f"{source}: a {doc.get('model')!r} model, not {cls.name!r}")
        params = _build(cls.params_type, doc.get("params"), f"{source}: params")
        for k, v in dataclasses.asdict(params).items():
            if not (isinstance(v, int | float) and math.isfinite(v) and v > 0):
                raise ModelFormatError(f"{source}: parameter {k} must be a positive number")
        config = _build(cls.config_type, doc.get("config"), f"{source}: config")
        model = cls.from_params(params, config)
        if doc.get("fit") is not None:
            model.fit_report = _build(FitReport, doc["fit"], f"{source}: fit")
        if doc.get("data") is not None:
            model.data = _build(DataWindow, doc["data"], f"{source}: data")
        return model


def _iso(d: Any) -> str | None:
    return None if d is None else d.isoformat()


def _asdict(o: Any) -> dict[str, Any] | None:
    return None if o is None else dataclasses.asdict(o)


def _build(kind: type, values: Any, where: str) -> Any:
    names = {f.name for f in dataclasses.fields(kind)}
    if not isinstance(values, dict):
        raise ModelFormatError(f"{where} must be an object")
    unknown, missing = set(values) - names, {
        f.name for f in dataclasses.fields(kind)
        if f.name not in values and f.default is dataclasses.MISSING} - set(values)
    if unknown or missing:
        raise ModelFormatError(f"{where}: unknown {sorted(unknown)}, missing {sorted(missing)}")
    return kind(**values)
