"""The metric objects served from the stored results equal those computed from the models, and
a period is served from storage only while it is fresh."""

from __future__ import annotations

import pytest

from siyu.models.periods import parse_period, periods_between
from siyu.results import compute_metrics
from siyu.results.read import fresh_periods
from siyu.results.service import (
    churn,
    cohorts_between,
    community,
    daily,
    fast,
    gmv,
    health,
    rfm,
)
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


# -- the families read by snapshot or by day, and community ---------------------------------

def _day(ws, text):
    from datetime import date

    from siyu.models.periods import period_of

    d = date.fromisoformat(text)
    return d, period_of(d, "day", ws.settings.zone).end_utc


@pytest.mark.parametrize("family", [rfm, churn])
def test_snapshots_at_a_stored_period_end_are_read(brand_ws, family):
    compute_metrics(brand_ws, "month", "2025-02", "2025-03")
    for text, want in (("2025-03-31", "stored"), ("2025-02-28", "stored"),
                       ("2025-03-30", "computed"), ("2025-04-30", "computed")):
        got, route = family(brand_ws, *_day(brand_ws, text))
        computed, route2 = family(brand_ws, *_day(brand_ws, text), route="computed")
        assert (route, route2) == (want, "computed"), text
        assert got == computed, text
    # rfm --out needs the per-buyer table: always computed
    r, route = rfm(brand_ws, *_day(brand_ws, "2025-03-31"), None)
    assert route == "stored" and r["buyers"] > 0


def test_rfm_with_a_per_buyer_file_is_computed(brand_ws, tmp_path):
    compute_metrics(brand_ws, "month", "2025-03", "2025-03")
    out = tmp_path / "rfm.csv"
    r, route = rfm(brand_ws, *_day(brand_ws, "2025-03-31"), out)
    assert route == "computed" and out.read_text().count("\n") == r["buyers"] + 1


def test_stored_days_equal_computed_ones(brand_ws):
    days = periods_between("2025-03-01", "2025-03-07", "day", zone=brand_ws.settings.zone)
    assert daily(brand_ws, days)[1] == "computed"
    compute_metrics(brand_ws, "day", "2025-03-01", "2025-03-07")
    got, route = daily(brand_ws, days)
    computed, _ = daily(brand_ws, days, route="computed")
    assert route == "stored" and got == computed and len(got["days"]) == 7
    longer = periods_between("2025-03-01", "2025-03-08", "day", zone=brand_ws.settings.zone)
    assert daily(brand_ws, longer)[1] == "computed"  # one day not stored


def test_stored_community_equals_computed(ws, tmp_path):
    from tests.models.test_community import community_brand

    community_brand().load(ws, tmp_path)
    p = month(ws, "2025-03")
    assert community(ws, p)[1] == "computed"
    compute_metrics(ws, "month", "2025-02", "2025-03")
    got, route = community(ws, p)
    computed, route2 = community(ws, p, route="computed")
    assert (route, route2) == ("stored", "computed")
    assert got == computed
    assert got["groups"][0]["name"] == "一群" and got["overall"]["joins"] == 3


def test_stored_cohorts_while_nothing_new(brand_ws, tmp_path):
    assert cohorts_between(brand_ws, "week")[1] == "computed"
    compute_metrics(brand_ws, "week", "2025-W05", "2025-W14")
    for first, last in ((None, None), ("2025-02", "2025-03"), ("2025-W10", None)):
        got, route = cohorts_between(brand_ws, "week", first, last)
        computed, _ = cohorts_between(brand_ws, "week", first, last, route="computed")
        assert route == "stored" and got == computed and got["cohorts"], (first, last)
    assert cohorts_between(brand_ws, "month")[1] == "computed"  # that grain not computed
    # any new row can move the data end or add an entrant: computed again
    Brand().order("member:u2", "2025-06-25 10:00", 40).load(brand_ws, tmp_path)
    assert cohorts_between(brand_ws, "week")[1] == "computed"


def test_every_family_command_says_where_its_numbers_come_from(brand_ws, cli):
    compute_metrics(brand_ws, "month", "2025-02", "2025-03")
    compute_metrics(brand_ws, "day", "2025-03-01", "2025-03-02")
    home = str(brand_ws.home)
    brand_ws.close()
    for args in (("health", "--period", "2025-03"), ("rfm", "--as-of", "2025-03-31"),
                 ("churn", "--as-of", "2025-03-31"), ("community", "--period", "2025-03"),
                 ("daily", "--from", "2025-03-01", "--to", "2025-03-02"),
                 ("cohorts", "--grain", "month")):
        r = cli("metrics", *args, "--home", home)
        assert "from the stored results" in r.stderr, args
        r = cli("metrics", *args, "--home", home, "--recompute")
        assert "computed from the models" in r.stderr, args
        a = cli.json("metrics", *args, "--home", home)
        b = cli.json("metrics", *args, "--home", home, "--recompute")
        assert a == b, args
