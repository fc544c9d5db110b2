"""The loyalty points ledger 积分 (siyu.activation.points): grants with an expiry,
redemptions from the grants that lapse first, balances and points expiring in a window; the
``points`` journey action (idempotent); ``siyu points`` on the command line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from siyu.activation import points
from siyu.activation.definition import validate_text
from siyu.errors import UsageError
from siyu.ops import OpsStore


def t(day: int, hour: int = 0) -> datetime:
    return datetime(2025, 3, day, hour, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def ops(request, tmp_path):
    url = (f"sqlite:///{tmp_path / 'ops.sqlite'}" if request.param == "sqlite"
           else request.getfixturevalue("postgres_url"))
    store = OpsStore(url)
    store.upgrade()
    yield store
    store.close()


def test_balance_redemptions_and_expiry(ops):
    with ops.engine.begin() as c:
        points.grant(c, "c1", 100, at=t(1), expires_at=t(10), source="test", key="g1")
        points.grant(c, "c1", 50, at=t(2), expires_at=t(20), source="test", key="g2")
        points.grant(c, "c1", 30, at=t(3), expires_at=None, source="test", key="g3")
        points.grant(c, "c1", 100, at=t(1), expires_at=t(10), source="test", key="g1")  # again
        points.redeem(c, "c1", 120, at=t(5), source="test", key="r1")
        points.grant(c, "c2", 40, at=t(1), expires_at=t(10, 12), source="test", key="g4")
    with ops.engine.connect() as c:
        assert points.balance(c, "c1", t(1)) == 100
        assert points.balance(c, "c1", t(4)) == 180
        # 120 redeemed on the 5th: the 100 lapsing on the 10th first, then 20 of the 50
        assert [(x.points, x.left) for x in points.lots(c, "c1", t(5))] == [
            (100, 0), (50, 30), (30, 30)]
        assert points.balance(c, "c1", t(5)) == 60
        assert points.balance(c, "c1", t(20)) == 30  # the 50-grant lapsed at its expiry
        assert points.expiring(c, t(9), t(10)) == {}  # the 100 were all redeemed
        assert points.expiring(c, t(10), t(11)) == {"c2": 40}
        assert points.expiring(c, t(19), t(20)) == {"c1": 30}
        assert points.expiring(c, t(1), t(30)) == {"c1": 100, "c2": 40}  # as of the 1st
        assert points.expiring(c, t(1), t(30), at=t(6)) == {"c1": 30, "c2": 40}
        with pytest.raises(points.NotEnoughPoints):
            points.redeem(c, "c1", 61, at=t(6), source="test")
        with pytest.raises(UsageError):
            points.grant(c, "c1", 0, at=t(6), expires_at=t(9), source="test")
        with pytest.raises(UsageError):
            points.grant(c, "c1", 5, at=t(6), expires_at=t(6), source="test")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(1, 50), st.integers(1, 20),
                          st.integers(1, 30)), min_size=1, max_size=12))
def test_balance_is_grants_minus_redemptions_minus_lapsed(tmp_path_factory, ops_list):
    """Whatever the order: the balance never goes negative, never exceeds what was granted
    minus redeemed, and what is left at any instant lapses exactly at the grants' expiries."""
    store = OpsStore(f"sqlite:///{tmp_path_factory.mktemp('p') / 'ops.sqlite'}")
    store.upgrade()
    try:
        granted = redeemed = 0
        with store.engine.begin() as c:
            for i, (is_grant, n, day, life) in enumerate(sorted(ops_list, key=lambda o: o[2])):
                at = t(1) + timedelta(days=day, minutes=i)
                if is_grant:
                    points.grant(c, "c", n, at=at, expires_at=at + timedelta(days=life),
                                 source="test", key=f"k{i}")
                    granted += n
                elif points.balance(c, "c", at) >= n:
                    points.redeem(c, "c", n, at=at, source="test", key=f"k{i}")
                    redeemed += n
            end = t(1) + timedelta(days=22)
            bal = points.balance(c, "c", end)
            assert 0 <= bal <= granted - redeemed
            lapsing = points.expiring(c, end, end + timedelta(days=60)).get("c", 0)
            assert lapsing == bal  # every grant expires: all of the balance lapses later
            assert points.balance(c, "c", end + timedelta(days=60)) == 0
    finally:
        store.close()


def test_points_action_is_validated_with_line_and_reason():
    text = ("name: p\ntitle: 积分\ntrigger: {type: manual}\nsteps:\n"
            "  - points: {amount: 0, expires_in_days: 0, colour: red}\n")
    got = [(p.line, p.path, p.reason) for p in validate_text(text)]
    assert got == [
        (5, "steps[0].points.colour", "unknown key 'colour'; known: amount, expires_in_days, "
                                      "reason"),
        (5, "steps[0].points.amount", "amount must be a whole number from 1 to 10000000"),
        (5, "steps[0].points.expires_in_days", "expires_in_days must be a whole number ≥ 1")]


def test_cli_refuses_bad_input(tmp_path, cli):
    from tests.activation.template_support import Brand, setup

    b = Brand()
    b.add("consumers", consumer_key="wecom:u1", name="王芳")
    home, _ = setup(tmp_path, b, "expiry_reminder", "2025-03-01")
    r = cli("points", "grant", "wecom:u1", "10", "--expires", "2025-02-30", "--home", home,
            ok=False)
    assert r.exit_code != 0 and "--expires: cannot read '2025-02-30'" in r.output
    r = cli("points", "grant", "wecom:u1", "10", "--expires", "2025-02-28", "--at",
            "2025-03-01", "--home", home, ok=False)
    assert r.exit_code != 0 and "must be after the grant time" in r.output
    r = cli("points", "grant", "wecom:u1", "0", "--expires", "2025-12-31", "--home", home,
            ok=False)
    assert r.exit_code != 0 and "whole number from 1 to 10000000" in r.output
    r = cli("points", "grant", "wecom:nobody", "10", "--expires", "2025-12-31", "--home", home,
            ok=False)
    assert r.exit_code != 0 and "unknown consumer key" in r.output
    got = cli.json("points", "grant", "wecom:u1", "10", "--expires", "2025-12-31", "--at",
                   "2025-03-01", "--reason", "开卡礼", "--home", home)
    assert (got["kind"], got["points"], got["balance"]) == ("grant", 10, 10)
    r = cli("points", "redeem", "wecom:u1", "11", "--at", "2025-03-02", "--home", home,
            ok=False)
    assert r.exit_code != 0 and "not enough points: balance 10, asked 11" in r.output
    shown = cli.json("points", "show", "wecom:u1", "--at", "2025-12-31T23:00", "--home", home)
    assert (shown["balance"], shown["expiring_30_days"]) == (10, 10)
    assert shown["ledger"][0]["reason"] == "开卡礼"
    assert cli.json("points", "show", "wecom:u1", "--at", "2026-01-01",
                    "--home", home)["balance"] == 0
