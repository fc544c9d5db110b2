"""Entry cohorts and N-day retention (DOMAIN.md §8) on hand-built consumers (Asia/Shanghai)."""

from __future__ import annotations

import math
from datetime import date, datetime

import pytest

from siyu.config import load_settings
from siyu.models.cohorts import cohorts
from siyu.models.sources import Sources
from tests.models.builder import Brand


def visit(b: Brand, key: str, at: str, typ: str = "visit") -> None:
    b.add("interactions", consumer_key=key, field="mini_program", type=typ, occurred_at=at)


def cohort_brand() -> Brand:
    b = Brand()
    # entering on 1 March
    b.rel("wecom:c1", "guide", "start", "2025-03-01 10:00", "g1")
    visit(b, "wecom:c1", "2025-03-01 12:00")  # day d: does not count
    visit(b, "wecom:c1", "2025-03-08 10:00")  # d+7: 7- and 30-day
    b.rel("wecom:c2", "guide", "start", "2025-03-01 10:00", "g1")
    visit(b, "wecom:c2", "2025-03-09 10:00")  # d+8: 30-day only
    b.rel("wecom:c3", "guide", "start", "2025-03-01 10:00", "g1")
    visit(b, "wecom:c3", "2025-03-02 10:00", "message_sent")  # the brand wrote: no visit
    b.rel("wecom:c4", "guide", "start", "2025-03-01 10:00", "g1")
    visit(b, "wecom:c4", "2025-03-01 20:00")  # only on day d
    b.rel("openid:c5", "shop", "start", "2025-03-01 23:30")  # late evening, local day 1 March
    visit(b, "openid:c5", "2025-03-31 10:00")  # d+30
    b.rel("openid:c11", "shop", "start", "2025-03-01 09:00")
    visit(b, "openid:c11", "2025-04-01 10:00")  # d+31: too late
    # c6 first started long before; re-joining on 1 March does not make it an entrant again
    b.rel("wecom:c6", "guide", "start", "2024-06-01 10:00", "g1")
    b.rel("wecom:c6", "guide", "end", "2024-07-01 10:00", "g1")
    b.rel("wecom:c6", "guide", "start", "2025-03-01 10:00", "g1")
    visit(b, "wecom:c6", "2025-03-02 10:00")
    # c7 enters on 3 March (week W10), back on d+2
    b.rel("member:c7", "membership", "start", "2025-03-03 10:00")
    visit(b, "member:c7", "2025-03-05 10:00")
    # c8 enters on 20 March, back on d+7
    b.rel("member:c8", "membership", "start", "2025-03-20 10:00")
    visit(b, "member:c8", "2025-03-27 10:00")
    # c9 enters on 1 April; its visit on 5 April is the latest interaction (the data end)
    b.rel("member:c9", "membership", "start", "2025-04-01 10:00")
    visit(b, "member:c9", "2025-04-05 10:00")
    return b


@pytest.fixture
def brand_ws(ws, tmp_path):
    cohort_brand().load(ws, tmp_path)
    return ws


def table(ws, grain="day", **kw) -> dict[str, tuple]:
    df = cohorts(Sources.of(ws), grain, **kw).execute()
    out = {}
    for r in df.to_dict("records"):
        rates = tuple(None if math.isnan(r[f"retention_{n}"]) else r[f"retention_{n}"]
                      for n in (7, 30))
        out[r["cohort"]] = (r["size"], r["retained_7"], r["retained_30"], *rates)
    return out


def test_day_cohorts_up_to_the_data_end(brand_ws):
    # data end: 5 April (c9's visit)
    assert table(brand_ws) == {
        "2024-06-01": (1, 0, 0, 0.0, 0.0),
        "2025-03-01": (6, 1, 3, pytest.approx(1 / 6), pytest.approx(3 / 6)),
        "2025-03-03": (1, 1, 1, 1.0, 1.0),  # window ends 2 April: complete
        "2025-03-20": (1, 1, 1, 1.0, None),  # 30-day window ends 19 April: incomplete
        # back on d+4 (counted so far), but the 7-day window ends 8 April: incomplete
        "2025-04-01": (1, 1, 1, None, None),
    }


def test_completeness_flags(brand_ws):
    df = cohorts(Sources.of(brand_ws)).execute().set_index("cohort")
    assert bool(df.loc["2025-03-20", "complete_7"]) is True
    assert bool(df.loc["2025-03-20", "complete_30"]) is False


def test_week_cohorts_are_complete_from_their_last_day(brand_ws):
    assert table(brand_ws, "week") == {
        "2024-W22": (1, 0, 0, 0.0, 0.0),
        "2025-W09": (6, 1, 3, pytest.approx(1 / 6), pytest.approx(3 / 6)),
        # c7 entered on Monday 3 March, but the week ends on 9 March: 30 days reach 8 April
        "2025-W10": (1, 1, 1, 1.0, None),
        "2025-W12": (1, 1, 1, 1.0, None),
        "2025-W14": (1, 1, 1, None, None),
    }


def test_month_cohorts_as_of(brand_ws):
    zone = brand_ws.settings.zone
    may = datetime(2025, 5, 1, tzinfo=zone)  # observed through 30 April
    assert table(brand_ws, "month", as_of=may) == {
        "2024-06": (1, 0, 0, 0.0, 0.0),
        # c1 c2 c3 c4 c5 c11 c7 c8, each relative to their own entry day
        "2025-03": (8, 3, 5, pytest.approx(3 / 8), pytest.approx(5 / 8)),
        "2025-04": (1, 1, 1, None, None),
    }
    # by default (data end 5 April) March's 7-day window (to 7 April) is not over yet
    assert table(brand_ws, "month")["2025-03"][3:] == (None, None)
    # at noon on 30 April, 30 April is not over: March's 30-day window is incomplete
    noon = datetime(2025, 4, 30, 12, tzinfo=zone)
    assert table(brand_ws, "month", as_of=noon)["2025-03"][3:] == (pytest.approx(3 / 8), None)
    # as of 1 April 00:00 (naive: brand-local), observed through 31 March: c9 (10:00) has not
    # entered yet; 1 March's 30-day window (to 31 March) is over, 3 March's is not
    got = table(brand_ws, as_of=datetime(2025, 4, 1))
    assert "2025-04-01" not in got
    assert got["2025-03-01"] == (6, 1, 3, pytest.approx(1 / 6), 0.5)
    assert got["2025-03-03"][4] is None
    # as of 27 March c8's visit that day is not known yet
    assert table(brand_ws, as_of=datetime(2025, 3, 27))["2025-03-20"] == (1, 0, 0, None, None)


def test_entry_range_and_other_windows(brand_ws):
    got = table(brand_ws, start=date(2025, 3, 1), end=date(2025, 4, 1))
    assert list(got) == ["2025-03-01", "2025-03-03", "2025-03-20"]
    df = cohorts(Sources.of(brand_ws), days=[8]).execute().set_index("cohort")
    assert list(df.columns) == ["cohort_start", "size", "retained_8", "complete_8",
                                "retention_8"]
    assert df.loc["2025-03-01", "retention_8"] == pytest.approx(2 / 6)
    brand_ws.settings = load_settings(brand_ws.settings_path, retention_days=[1, 2])
    df = cohorts(Sources.of(brand_ws)).execute().set_index("cohort")
    assert df.loc["2025-03-03", ["retained_1", "retained_2"]].tolist() == [0, 1]


def test_no_data(ws, tmp_path):
    Brand().rel("wecom:x", "guide", "start", "2025-03-01 10:00").load(ws, tmp_path)
    # no interactions at all: nothing is observed, every window is incomplete
    assert table(ws) == {"2025-03-01": (1, 0, 0, None, None)}


# -- CLI -----------------------------------------------------------------------------------

def test_cli_cohorts_json(cli, brand_ws):
    brand_ws.close()  # the CLI opens the workspace itself
    home = str(brand_ws.home)
    data = cli.json("metrics", "cohorts", "--grain", "week", "--home", home)
    assert data["grain"] == "week"
    assert data["cohorts"] == [
        {"cohort": "2024-W22", "size": 1, "retention": {"7": 0.0, "30": 0.0}},
        {"cohort": "2025-W09", "size": 6, "retention": {"7": round(1 / 6, 6), "30": 0.5}},
        {"cohort": "2025-W10", "size": 1, "retention": {"7": 1.0, "30": None}},
        {"cohort": "2025-W12", "size": 1, "retention": {"7": 1.0, "30": None}},
        {"cohort": "2025-W14", "size": 1, "retention": {"7": None, "30": None}},
    ]
    # --from/--to in any notation: the cohorts of their first and last days
    days = cli.json("metrics", "cohorts", "--grain", "day", "--from", "2025-W10", "--to",
                    "2025-03-20", "--home", home)["cohorts"]
    assert [c["cohort"] for c in days] == ["2025-03-03", "2025-03-20"]
    months = cli.json("metrics", "cohorts", "--grain", "month", "--from", "2025-03-15",
                      "--home", home)["cohorts"]
    assert [(c["cohort"], c["size"]) for c in months] == [("2025-03", 8), ("2025-04", 1)]


def test_cli_cohorts_table(cli, brand_ws):
    brand_ws.close()
    home = str(brand_ws.home)
    r = cli("metrics", "cohorts", "--home", home)
    for label in ("队列", "cohort", "人数", "size", "7日留存", "30日留存", "retention",
                  "2025-03-01", "16.7%", "50.0%", "—"):
        assert label in r.stdout, label
    assert cli("metrics", "cohorts", "--grain", "year", "--home", home, ok=False).exit_code == 2
