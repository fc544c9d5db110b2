"""Guardrails: frequency caps per channel per day and per week over all channels, quiet
hours, service messages uncapped — exact suppressions on hand-made enrolments, and a
hypothesis check that no schedule ever exceeds a cap."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from siyu.activation.engine import enrol_many, run_pass
from siyu.activation.guardrails import quiet_until
from siyu.activation.store import definition, deploy
from siyu.config import load_settings
from siyu.ops.tables import send_counters
from tests.activation.journey_support import local, log, sends

DAILY = """\
name: daily_{ch}
title: 每日{ch}
trigger: {{type: manual}}
steps:
  - send: {{channel: {ch}, template: "第一天"}}
  - wait: {{days: 1}}
  - send: {{channel: {ch}, template: "第二天"}}
  - wait: {{days: 1}}
  - send: {{channel: {ch}, template: "第三天"}}
  - wait: {{days: 1}}
  - send: {{channel: {ch}, template: "第四天"}}
  - send: {{channel: {ch}, purpose: service, template: "订单已发货"}}
"""


def _enrol(ws, name: str, ids, at):
    with ws.ops.engine.begin() as c:
        j = definition(c, name, 1)
        return enrol_many(c, j, 1, [(i, at, "m") for i in ids])


def test_caps_per_channel_day_and_per_week(ws):
    for ch in ("wecom", "sms"):
        deploy(ws.ops, DAILY.format(ch=ch), actor="t")
    mon = local("2025-03-03 10:00")  # a Monday
    _enrol(ws, "daily_wecom", ["c1", "c2"], mon)
    _enrol(ws, "daily_sms", ["c1"], mon + timedelta(hours=1))
    run_pass(ws, now=mon + timedelta(days=5))
    got = Counter((s["consumer_id"], s["channel"], s["at"][:10]) for s in sends(ws)
                  if s["purpose"] == "marketing")
    # c1: Mon wecom + sms (one per channel per day), Tue wecom (3rd of the week), then the
    # week is full; c2 (wecom only): Mon, Tue, Wed, and Thu is the 4th → cap_week
    assert sorted(got) == [("c1", "sms", "2025-03-03"), ("c1", "wecom", "2025-03-03"),
                           ("c1", "wecom", "2025-03-04"), ("c2", "wecom", "2025-03-03"),
                           ("c2", "wecom", "2025-03-04"), ("c2", "wecom", "2025-03-05")]
    reasons = Counter((r["journey"], r["reason"]) for r in log(ws, "suppressed"))
    assert reasons == {("daily_wecom", "cap_week"): 3, ("daily_sms", "cap_week"): 3}
    # service messages are not capped
    service = sorted(s["consumer_id"] for s in sends(ws) if s["purpose"] == "service")
    assert service == ["c1", "c1", "c2"]
    with ws.ops.engine.connect() as c:
        counters = dict(((r[0], r[1]), r[2]) for r in c.execute(select(send_counters)))
    assert counters[("c1", "w:2025-W10")] == 3 and counters[("c2", "w:2025-W10")] == 3
    assert counters[("c1", "d:2025-03-03:wecom")] == 1


def test_quiet_hours_boundaries():
    s = load_settings(None)
    assert quiet_until(local("2025-03-03 21:29"), s) is None
    assert quiet_until(local("2025-03-03 21:30"), s) == local("2025-03-04 08:30")
    assert quiet_until(local("2025-03-04 03:00"), s) == local("2025-03-04 08:30")
    assert quiet_until(local("2025-03-04 08:30"), s) is None
    day = load_settings(None, quiet_hours_start="12:00", quiet_hours_end="14:00")
    assert quiet_until(local("2025-03-04 13:00"), day) == local("2025-03-04 14:00")
    assert quiet_until(local("2025-03-04 15:00"), day) is None
    off = load_settings(None, quiet_hours_start="00:00", quiet_hours_end="00:00")
    assert quiet_until(local("2025-03-04 03:00"), off) is None


BURST = """\
name: burst_{i}
title: 连发{i}
trigger: {{type: manual}}
steps:
  - send: {{channel: {ch}, template: "一"}}
  - wait: {{hours: {h}}}
  - send: {{channel: {ch2}, template: "二"}}
"""


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=st.lists(st.tuples(st.sampled_from(["wecom", "sms", "file"]),
                               st.sampled_from(["wecom", "sms", "file"]),
                               st.integers(1, 60), st.integers(0, 200),
                               st.sets(st.sampled_from(["a", "b", "c"]), min_size=1)),
                     min_size=1, max_size=6))
def test_no_schedule_exceeds_a_cap(tmp_path_factory, plan):
    from siyu.workspace import Workspace

    ws = Workspace.init(tmp_path_factory.mktemp("caps") / "ws")
    try:
        start = local("2025-03-03 09:00")
        for i, (ch, ch2, h, offset, people) in enumerate(plan):
            deploy(ws.ops, BURST.format(i=i, ch=ch, ch2=ch2, h=h), actor="t")
            _enrol(ws, f"burst_{i}", sorted(people), start + timedelta(hours=offset))
        run_pass(ws, now=start + timedelta(days=20))
        zone = ws.settings.zone
        out = sends(ws)
        day = Counter((s["consumer_id"], s["channel"], s["at"][:10]) for s in out)
        week = Counter((s["consumer_id"],
                        local(s["at"]).astimezone(zone).isocalendar()[:2]) for s in out)
        assert max(day.values(), default=0) <= 1
        assert max(week.values(), default=0) <= 3
        assert all(not ("21:30" <= s["at"][11:] or s["at"][11:] < "08:30") for s in out)
        # every planned send is either sent or suppressed with a reason, never lost
        planned = sum(2 * len(p[4]) for p in plan)
        assert len(out) + len(log(ws, "suppressed")) == planned
    finally:
        ws.close()
