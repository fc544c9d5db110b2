"""Churn-risk signals (DOMAIN.md §10) at the end of 2025-03-31 (t = 2025-04-01 00:00 local):
no engaged interaction since 2025-03-02 00:00, no view since 2025-03-11 00:00, a brand
message sent before 2025-03-29 00:00 left unread."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from siyu.config import load_settings
from siyu.models.churn import churn_risk, churn_summaries, churn_summary
from siyu.models.periods import periods_between
from siyu.models.sources import Sources
from tests.models.builder import Brand

AS_OF = datetime(2025, 3, 31, 16, 0, tzinfo=UTC)


def act(b: Brand, key: str, type_: str, at: str) -> None:
    b.add("interactions", consumer_key=key, field="guide", type=type_, occurred_at=at,
          field_ref="g1")


def risky(b: Brand, who: str, *, like="2025-02-15 10:00", view="2025-03-01 10:00",
          sent="2025-03-20 10:00") -> str:
    """A guide friend since January matching all three conditions unless told otherwise."""
    key = f"wecom:{who}"
    b.rel(key, "guide", "start", "2025-01-01 10:00", "g1")
    if like:
        act(b, key, "like", like)
    if view:
        act(b, key, "view", view)
    if sent:
        act(b, key, "message_sent", sent)
    return key


def churn_brand() -> Brand:
    b = Brand()
    risky(b, "all")                                             # all three hold
    risky(b, "eng", like="2025-03-05 10:00")                    # engaged recently
    risky(b, "engedge", like="2025-03-02 00:00")                # engaged exactly 30 days ago
    risky(b, "view", view="2025-03-20 10:00")                   # viewed recently
    act(b, risky(b, "read"), "message_read", "2025-03-20 12:00")         # read after
    act(b, risky(b, "readbefore"), "message_read", "2025-03-19 12:00")   # read only before
    act(b, risky(b, "readsame"), "message_read", "2025-03-20 10:00")     # read at that instant
    risky(b, "edge72", sent="2025-03-29 00:00")                 # exactly 72 h old: not more
    risky(b, "edge73", sent="2025-03-28 23:59")                 # 72 h 1 min old
    key = risky(b, "newmsg", sent="2025-03-01 10:00")           # old message read, new unread
    act(b, key, "message_read", "2025-03-02 10:00")
    act(b, key, "message_sent", "2025-03-30 10:00")             # … but only 38 h old
    act(b, risky(b, "after"), "message_read", "2025-04-01 09:00")  # read after t: unknown at t
    # one person, two keys: the message to the WeCom key is read under the member key
    risky(b, "two")
    b.link("wecom:two", "member:two")
    act(b, "member:two", "message_read", "2025-03-22 10:00")
    b.rel("member:quiet", "membership", "start", "2025-01-01 10:00")  # no interactions at all
    # left every relationship before t: not in the private domain, so not listed
    risky(b, "out")
    b.rel("wecom:out", "guide", "end", "2025-03-15 10:00", "g1")
    return b


@pytest.fixture
def brand_ws(ws, tmp_path):
    churn_brand().load(ws, tmp_path)
    return ws


def flags(ws, as_of=AS_OF) -> dict[str, tuple[bool, bool, bool, bool]]:
    df = churn_risk(Sources.of(ws), as_of).execute()
    idm = ws.warehouse.ibis.table("identity_map").execute()
    person = {}
    for r in idm.sort_values("key").itertuples():  # the wecom: key names the person
        person[r.consumer_id] = r.key.split(":", 1)[1]
    return {person[r.consumer_id]: (bool(r.no_engaged), bool(r.unread_message),
                                    bool(r.no_view), bool(r.high_risk))
            for r in df.itertuples()}


def test_each_condition(brand_ws):
    assert flags(brand_ws) == {
        #             no_engaged unread no_view high_risk
        "all":        (True, True, True, True),
        "eng":        (False, True, True, False),
        "engedge":    (False, True, True, False),
        "view":       (True, True, False, False),
        "read":       (True, False, True, False),
        "readbefore": (True, True, True, True),
        "readsame":   (True, False, True, False),
        "edge72":     (True, False, True, False),
        "edge73":     (True, True, True, True),
        "newmsg":     (True, False, True, False),
        "after":      (True, True, True, True),
        "two":        (True, False, True, False),
        "quiet":      (True, False, True, False),
    }


def test_explaining_times(brand_ws):
    df = churn_risk(Sources.of(brand_ws), AS_OF).execute()
    local = df.unread_since.dropna().dt.tz_convert("Asia/Shanghai").dt.strftime("%m-%d %H:%M")
    assert sorted(set(local)) == ["03-20 10:00", "03-28 23:59", "03-29 00:00", "03-30 10:00"]


def test_summary_and_settings(brand_ws):
    s = churn_summary(Sources.of(brand_ws), AS_OF).execute().iloc[0]
    assert (s.private, s.high_risk) == (13, 4) and s.rate == pytest.approx(4 / 13)
    brand_ws.settings = load_settings(brand_ws.settings_path, churn_unread_hours=71)
    got = flags(brand_ws)
    assert got["edge72"][3] and not got["newmsg"][3]
    brand_ws.settings = load_settings(brand_ws.settings_path, churn_no_view_days=31)
    assert not any(f[3] for f in flags(brand_ws).values())  # every view was on or after 1 March


def test_nobody_in_the_private_domain(brand_ws):
    early = datetime(2024, 12, 31, 16, 0, tzinfo=UTC)
    s = churn_summary(Sources.of(brand_ws), early).execute().to_dict("records")[0]
    assert (s["private"], s["high_risk"]) == (0, 0) and pd.isna(s["rate"])  # null, not 0


def test_many_periods_in_one_query(brand_ws):
    """churn_summaries (what `siyu metrics compute` stores) = churn_summary at each end."""
    src = Sources.of(brand_ws)
    zone = brand_ws.settings.zone
    for grain, first, last in (("month", "2024-12", "2025-04"), ("week", "2025-W10", "2025-W15"),
                               ("day", "2025-03-27", "2025-04-02")):
        periods = periods_between(first, last, grain, zone=zone)
        many = {r["period"]: r for r in churn_summaries(src, periods).to_pyarrow().to_pylist()}
        assert sorted(many) == sorted(str(p) for p in periods)
        for p in periods:
            one = churn_summary(src, p.end_utc).to_pyarrow().to_pylist()[0]
            assert {**one, "period": str(p)} == many[str(p)], (grain, str(p))
    march = churn_summaries(src, periods_between("2025-03", "2025-03", "month",
                                                           zone=zone))
    many_at = march.to_pyarrow().to_pylist()[0]
    assert {k: many_at[k] for k in ("private", "high_risk", "no_engaged", "unread_message",
                                    "no_view")} == {"private": 13, "high_risk": 4,
                                                    "no_engaged": 11, "unread_message": 7,
                                                    "no_view": 12}


# --- CLI ----------------------------------------------------------------------------------

def test_cli(brand_ws, cli, tmp_path):
    home = str(brand_ws.home)
    brand_ws.close()
    d = cli.json("metrics", "churn", "--as-of", "2025-03-31", "--home", home)
    assert {k: d[k] for k in ("as_of", "private", "high_risk")} == {
        "as_of": "2025-03-31", "private": 13, "high_risk": 4}
    assert d["rate"] == pytest.approx(4 / 13, abs=1e-6)
    assert d["conditions"] == {"no_engaged": 11, "unread_message": 7, "no_view": 12}
    assert cli.json("metrics", "churn", "--as-of", "2024-12-31", "--home", home)["rate"] is None
    r = cli("metrics", "churn", "--as-of", "2025-03-31", "--home", home)
    assert "高流失风险 high risk" in r.stdout and "30.8%" in r.stdout
    from siyu.workspace import Workspace

    fresh = Workspace.init(tmp_path / "fresh")
    fresh.close()
    r = cli("metrics", "churn", "--as-of", "2025-03-31", "--home", str(fresh.home), ok=False)
    assert r.exit_code == 1 and "siyu identity resolve" in r.output
