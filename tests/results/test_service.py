"""The metric objects served from the stored results equal those computed from the models, and
a period is served from storage only while it is fresh."""

from __future__ import annotations

import pytest

from siyu.models.periods import parse_period
from siyu.results import compute_metrics
from siyu.results.read import fresh_periods
from siyu.results.service import fast, gmv, health
from tests.models.builder import Brand
from tests.models.test_tiers import march_brand


@pytest.fixture
def brand_ws(ws, tmp_path):
    march_brand().load(ws, tmp_path)
    return ws


def month(ws, text):
    return parse_period(text, zone=ws.settings.zone)


def test_nothing_stored_means_computed(brand_ws):
    r, route = fast(brand_ws, month(brand_ws, "2025-03"))
    assert route == "computed" and r["capital"] == 14
    assert fresh_periods(brand_ws, "month") == set()


@pytest.mark.parametrize("family", [fast, gmv, health])
def test_stored_objects_equal_computed_ones(brand_ws, family):
    compute_metrics(brand_ws, "month", "2025-01", "2025-05")
    for text in ("2025-02", "2025-03", "2025-04", "2025-05"):
        p = month(brand_ws, text)
        stored, route = family(brand_ws, p)
        computed, route2 = family(brand_ws, p, route="computed")
        assert (route, route2) == ("stored", "computed")
        assert stored == computed, text


def test_gmv_needs_the_previous_period_stored(brand_ws):
    compute_metrics(brand_ws, "month", "2025-03", "2025-04")
    assert gmv(brand_ws, month(brand_ws, "2025-03"))[1] == "computed"  # 2025-02 not stored
    assert gmv(brand_ws, month(brand_ws, "2025-04"))[1] == "stored"


def test_new_rows_make_their_period_and_later_ones_stale(brand_ws, tmp_path):
    compute_metrics(brand_ws, "month", "2025-01", "2025-05")
    assert fresh_periods(brand_ws, "month") == {f"2025-0{m}" for m in range(1, 6)}
    Brand().order("member:u2", "2025-03-25 10:00", 40).load(brand_ws, tmp_path)
    assert fresh_periods(brand_ws, "month") == {"2025-01", "2025-02"}
    r, route = fast(brand_ws, month(brand_ws, "2025-03"))
    assert route == "computed" and (r["tiers"]["member_no_purchase"],
                                    r["tiers"]["member_purchased"]) == (0, 6)
    compute_metrics(brand_ws, "month", "2025-01", "2025-05")
    assert fast(brand_ws, month(brand_ws, "2025-03")) == (r, "stored")


def test_changed_definitions_make_everything_stale(brand_ws, monkeypatch):
    compute_metrics(brand_ws, "month", "2025-02", "2025-03")
    monkeypatch.setattr(brand_ws.settings, "propagation_window_days", 3)
    assert fresh_periods(brand_ws, "month") == set()


def test_cli_reads_stored_results_and_says_so(brand_ws, cli):
    compute_metrics(brand_ws, "month", "2025-02", "2025-03")
    home = str(brand_ws.home)
    brand_ws.close()
    r = cli("metrics", "fast", "--period", "2025-03", "--home", home)
    assert "from the stored results" in r.stderr
    a = cli.json("metrics", "fast", "--period", "2025-03", "--home", home)
    b = cli.json("metrics", "fast", "--period", "2025-03", "--home", home, "--recompute")
    assert a == b and a["capital"] == 14


def test_no_import_since_means_no_warehouse_scan(brand_ws, tmp_path, monkeypatch):
    compute_metrics(brand_ws, "month", "2025-02", "2025-03")

    def scan(*_a, **_k):
        raise AssertionError("the event tables were scanned")

    monkeypatch.setattr("siyu.results.read.dirty_since", scan)
    assert fresh_periods(brand_ws, "month") == {"2025-02", "2025-03"}
    Brand().order("member:u2", "2025-03-25 10:00", 40).load(brand_ws, tmp_path)
    with pytest.raises(AssertionError, match="scanned"):
        fresh_periods(brand_ws, "month")  # an import since: the rows must be looked at
