"""Predictive consumer value (PRODUCT.md C4): BG/NBD, Gamma-Gamma, predictive CLV.

Engine-neutral numeric core in NumPy/SciPy, apart from the warehouse: a transaction log is
summarised per consumer by :func:`rfm_summary`, the models are fitted on that summary, and
predictions, CLV and holdout checks are computed from the fitted models.

- :mod:`siyu.value.summary`      frequency / recency / T / monetary (+ holdout) per consumer
- :mod:`siyu.value.base`         the model contract: config, fit report, save/load
- :mod:`siyu.value.bgnbd`        BG/NBD (Fader, Hardie & Lee 2005): purchases and P(alive)
- :mod:`siyu.value.gamma_gamma`  Gamma-Gamma spend model (Fader & Hardie 2013)
- :mod:`siyu.value.clv`          discounted CLV, predicted propagation value, churn deciles
- :mod:`siyu.value.evaluate`     calibration / holdout comparison by frequency group
- :mod:`siyu.value.simulate`     summaries drawn from known parameters
"""

from siyu.value.base import DataWindow, FitReport, ModelFormatError, NotFittedError
from siyu.value.bgnbd import BetaGeoConfig, BetaGeoModel, BetaGeoParams
from siyu.value.clv import CLVResult, predictive_clv
from siyu.value.evaluate import HoldoutEvaluation, holdout_evaluation
from siyu.value.gamma_gamma import (
    GammaGammaConfig,
    GammaGammaModel,
    GammaGammaParams,
    independence_check,
)
from siyu.value.simulate import simulate_summary
from siyu.value.summary import RFMSummary, rfm_summary

__all__ = ["BetaGeoConfig", "BetaGeoModel", "BetaGeoParams", "CLVResult", "DataWindow",
           "FitReport", "GammaGammaConfig", "GammaGammaModel", "GammaGammaParams",
           "HoldoutEvaluation", "ModelFormatError", "NotFittedError", "RFMSummary",
           "holdout_evaluation", "independence_check", "predictive_clv", "rfm_summary",
           "simulate_summary"]
