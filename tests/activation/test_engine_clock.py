"""Logical time: what a journey sends, and when, does not depend on how the clock advances
(one pass at the end, or `siyu run` with any tick) — hypothesis over entry times and ticks."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from siyu.activation.clock import set_sim_now
from siyu.activation.engine import enrol_many, run_pass
from siyu.activation.runner import run_until
from siyu.activation.store import definition, deploy
from siyu.workspace import Workspace
from tests.activation.journey_support import local, log, sends

STEPS = """\
name: timing
title: 时序
trigger: {{type: manual}}
steps:
  - send: {{channel: wecom, template: "一"}}
  - wait: {{hours: {h}}}
  - send: {{channel: sms, template: "二"}}
  - wait: {{days: 1, until: "09:00"}}
  - send: {{channel: wecom, template: "三"}}
"""
START = local("2025-03-03 00:00")


def _outcome(home, entries, h, tick):
    ws = Workspace.init(home)
    try:
        deploy(ws.ops, STEPS.format(h=h), actor="t")
        with ws.ops.engine.begin() as c:
            enrol_many(c, definition(c, "timing", 1), 1,
                       [(f"c{i:016x}", START + timedelta(minutes=m), "m")
                        for i, m in enumerate(entries)])
            set_sim_now(c, START)
        end = START + timedelta(days=8)
        if tick is None:
            run_pass(ws, now=end)
        else:
            run_until(ws, end, tick=timedelta(minutes=tick), deliver=False)
        return (sorted((s["consumer_id"], s["text"], s["at"]) for s in sends(ws)),
                sorted((r["enrolment_id"], r["step"], r["reason"]) for r in
                       log(ws, "suppressed")))
    finally:
        ws.close()


@settings(max_examples=8, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=st.lists(st.integers(0, 3 * 24 * 60), min_size=1, max_size=8),
       h=st.integers(1, 30), tick=st.integers(45, 36 * 60))
def test_results_do_not_depend_on_the_tick(tmp_path_factory, entries, h, tick):
    a = _outcome(tmp_path_factory.mktemp("a") / "ws", entries, h, None)
    b = _outcome(tmp_path_factory.mktemp("b") / "ws", entries, h, tick)
    assert a == b
    sent, _ = a
    assert all(not ("21:30" <= at[11:] or at[11:] < "08:30") for _c, _t, at in sent)
