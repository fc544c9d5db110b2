"""Consent at send time (DOMAIN §12): imported history and revocations recorded through siyu;
a revocation mid-journey stops every later send at once; opt-in model; audit entries."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from siyu.activation.consent import decide, record_change
from siyu.activation.engine import enrol_many, run_pass
from siyu.activation.store import definition, deploy
from siyu.ops.audit import entries
from tests.activation.journey_support import local, log, sends

T = local("2025-03-03 10:00")
CA, CB = "c00000000000000aa", "c00000000000000bb"


def test_decide_rules():
    rev = (T - timedelta(days=1), "marketing", "wecom", False)
    assert decide([], [], "marketing", "wecom", T) is True
    assert decide([], [], "marketing", "wecom", T, "opt_in") is False
    assert decide([], [], "service", "wecom", T, "opt_in") is True
    assert decide([rev], [], "marketing", "wecom", T) is False
    assert decide([rev], [], "marketing", "sms", T) is True          # other channel
    assert decide([rev], [], "service", "wecom", T) is True          # other purpose
    assert decide([rev], [], "marketing", "file", T) is False        # file = every channel
    assert decide([rev], [], "marketing", "wecom", T - timedelta(days=2)) is True  # before
    grant_all = (T - timedelta(hours=1), "marketing", "all", True)
    assert decide([rev, grant_all], [], "marketing", "wecom", T) is True
    assert decide([grant_all], [], "marketing", "sms", T, "opt_in") is True
    # a revocation recorded through siyu wins over any imported grant, whatever the time
    assert decide([grant_all], [(1, "marketing", "all", False)], "marketing", "sms",
                  T - timedelta(days=9)) is False
    assert decide([], [(1, "marketing", "sms", False), (2, "marketing", "all", True)],
                  "marketing", "sms", T) is True
    assert decide([], [], "marketing", "wecom_group", T) is True
    assert decide([(T, "marketing", "group", False)], [], "marketing", "wecom_group", T) is False


EV = st.tuples(st.integers(0, 10), st.sampled_from(["marketing", "service"]),
               st.sampled_from(["wecom", "sms", "all"]), st.booleans())


@given(events=st.lists(EV, max_size=8), at=st.integers(0, 10),
       purpose=st.sampled_from(["marketing", "service"]),
       channel=st.sampled_from(["wecom", "sms", "file"]))
def test_latest_revocation_always_blocks(events, at, purpose, channel):
    """Whatever the history: if the latest applicable event before the send is a revocation
    (on the channel or on all), the send is refused; a send with no applicable event follows
    the default."""
    wh = [(T + timedelta(hours=h), p, c, g) for h, p, c, g in events]
    when = T + timedelta(hours=at)
    ok = decide(wh, [], purpose, channel, when)
    chans = ["wecom", "sms"] if channel == "file" else [channel]
    for ch in chans:
        past = [e for e in wh if e[1] == purpose and e[2] in (ch, "all") and e[0] <= when]
        if past and not max(past, key=lambda e: e[0])[3]:
            assert ok is False
    if not any(e[1] == purpose and e[0] <= when for e in wh):
        assert ok is True


THREE = """\
name: three
title: 三连
trigger: {type: manual}
steps:
  - send: {channel: wecom, template: "一"}
  - wait: {days: 1}
  - send: {channel: wecom, template: "二"}
  - wait: {days: 1}
  - send: {channel: wecom, template: "三"}
  - send: {channel: wecom, purpose: service, template: "服务"}
"""


def test_revocation_mid_journey_stops_later_sends(ws, cli):
    deploy(ws.ops, THREE, actor="t")
    with ws.ops.engine.begin() as c:
        enrol_many(c, definition(c, "three", 1), 1, [(CA, T, "m"), (CB, T, "m")])
    run_pass(ws, now=T + timedelta(hours=1))
    assert sorted((s["consumer_id"], s["at"]) for s in sends(ws)) == [
        (CA, "2025-03-03 10:00"), (CB, "2025-03-03 10:00")]
    got = cli.json("consent", "revoke", CA, "--purpose", "marketing", "--channel", "wecom",
                   "--home", ws.home)
    assert got["granted"] is False and got["consumer_id"] == CA
    run_pass(ws, now=T + timedelta(days=5))
    assert sorted((s["consumer_id"], s["text"]) for s in sends(ws)) == [
        (CA, "一"), (CA, "服务"), (CB, "一"), (CB, "三"), (CB, "二"), (CB, "服务")]
    assert sorted((r["step"], r["reason"]) for r in log(ws, "suppressed")) == [
        ("s3", "consent"), ("s5", "consent")]
    (a,) = entries(ws.ops, "consent_change")
    assert a["target"] == CA and a["detail"] == {"purpose": "marketing", "channel": "wecom",
                                                   "granted": False, "source": "cli"}
    shown = cli.json("consent", "show", CA, "--home", ws.home)["allowed"]
    assert shown["marketing"]["wecom"] is False and shown["marketing"]["sms"] is True
    assert shown["service"]["wecom"] is True


def test_opt_in_model_needs_a_grant(tmp_path, monkeypatch):
    from siyu.workspace import Workspace

    monkeypatch.setenv("SIYU_CONSENT_MODEL", "opt_in")
    ws = Workspace.init(tmp_path / "ws")
    deploy(ws.ops, THREE, actor="t")
    record_change(ws.ops, consumer_id=CB, purpose="marketing", channel="all", granted=True,
                  actor="test")
    with ws.ops.engine.begin() as c:
        enrol_many(c, definition(c, "three", 1), 1, [(CA, T, "m"), (CB, T, "m")])
    run_pass(ws, now=T + timedelta(days=5))
    assert sorted((s["consumer_id"], s["text"]) for s in sends(ws)) == [
        (CA, "服务"), (CB, "一"), (CB, "三"), (CB, "二"), (CB, "服务")]
    ws.close()
