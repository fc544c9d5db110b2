"""Fixtures of the value tests: the CDNOW 1/10 sample and its calibration summary.

The CDNOW sample (2,357 customers who first bought from CDNOW in the first quarter of 1997,
transactions to the end of June 1998; Fader, Hardie & Lee 2005) ships with the ``lifetimes``
package (MIT licence) as ``lifetimes/datasets/CDNOW_sample.txt``; ``lifetimes`` is in the
``dev`` extra and only its data file is read here (its models are a reference in the tests
that say so). Columns: master customer id, sample customer id, date (YYYYMMDD), number of CDs,
amount in dollars.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from siyu.value.summary import RFMSummary, rfm_summary

CALIBRATION_END = "1997-09-30"  # 39 weeks after 1997-01-01
OBSERVATION_END = "1998-06-30"  # 39-week holdout


def cdnow_path() -> Path | None:
    spec = importlib.util.find_spec("lifetimes")  # finds the package without importing it
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "datasets" / "CDNOW_sample.txt"
    return path if path.exists() else None


@pytest.fixture(scope="session")
def cdnow_transactions() -> dict[str, np.ndarray]:
    path = cdnow_path()
    if path is None:
        pytest.skip("the CDNOW sample comes with lifetimes (dev extra): pip install -e '.[dev]'")
    raw = np.loadtxt(path, dtype=str)
    dates = np.array([f"{d[:4]}-{d[4:6]}-{d[6:]}" for d in raw[:, 2]], dtype="datetime64[D]")
    return {"consumer_id": raw[:, 1].astype(np.int64), "date": dates,
            "amount": raw[:, 4].astype(np.float64)}


@pytest.fixture(scope="session")
def cdnow(cdnow_transactions) -> RFMSummary:
    return rfm_summary(cdnow_transactions, calibration_end=CALIBRATION_END,
                       observation_end=OBSERVATION_END)


@pytest.fixture(scope="session")
def lifetimes():
    """The lifetimes package, for reference values (skipped when it is not installed)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pytest.importorskip("lifetimes")
