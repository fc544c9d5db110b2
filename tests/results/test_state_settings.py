"""The metrics fingerprint covers exactly the settings the metric code reads."""

from __future__ import annotations

import re
from pathlib import Path

import siyu
from siyu.config import Settings
from siyu.results.state import METRIC_SETTINGS, fingerprint

ROOT = Path(siyu.__file__).parent
NOT_A_DEFINITION = {"metrics_batch_periods"}  # how results are computed, not what they are


def test_every_setting_read_by_the_metric_code_is_in_the_fingerprint():
    read = set()
    for d in ("models", "results"):
        for f in (ROOT / d).rglob("*.py"):
            read |= set(re.findall(r"(?:settings|cfg)\.([a-z_0-9]+)", f.read_text("utf-8")))
    read = {"timezone" if n == "zone" else n for n in read}
    fields = set(Settings.model_fields)
    assert read & fields - NOT_A_DEFINITION <= METRIC_SETTINGS
    assert METRIC_SETTINGS <= fields


def test_other_settings_leave_the_fingerprint_alone():
    s = Settings()
    base = fingerprint(s)
    assert fingerprint(s.model_copy(update={"quiet_hours_start": "22:00",
                                            "brand_name": "x"})) == base
    assert fingerprint(s.model_copy(update={"propagation_window_days": 3})) != base
