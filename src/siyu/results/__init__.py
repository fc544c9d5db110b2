"""Materialised metric results (``siyu metrics compute``): the metric families stored in
warehouse tables keyed by grain and period, recomputed incrementally."""

from siyu.results.compute import COMPUTE_GRAINS, ComputeReport, compute_metrics, stored_periods
from siyu.results.families import RESULTS, Result

__all__ = ["COMPUTE_GRAINS", "ComputeReport", "compute_metrics", "stored_periods", "RESULTS",
           "Result"]
