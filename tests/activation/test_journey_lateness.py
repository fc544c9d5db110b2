"""Downtime and lateness (issue 6 audit): a worker that was down does not send stale
messages — sends and webhooks reached more than ``journey_late_limit`` after their time are
suppressed as ``too_late``; sends made late within the limit count against the caps on the
day they are actually queued; daily triggers do not catch up days long past."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from siyu.activation.engine import enrol_many, run_pass
from siyu.activation.measurement import stats
from siyu.activation.runner import run_until, worker
from siyu.activation.store import definition, deploy
from siyu.ops.tables import outbox, send_counters
from siyu.workspace import Workspace
from tests.activation.journey_support import local, log, sends, shown
from tests.models.builder import Brand

TWO_SENDS = """\
name: late
title: 迟到
trigger: {type: manual}
steps:
  - id: one
    send: {channel: file, purpose: service, template: "一"}
  - wait: {hours: 1}
  - id: two
    send: {channel: file, purpose: service, template: "二"}
"""
ONE_SEND = """\
name: {name}
title: 一条
trigger: {{type: manual}}
steps:
  - send: {{channel: file, template: "{name}"}}
"""
HOOK = """\
name: hook
title: 回调
trigger: {type: manual}
steps:
  - webhook: {url: "http://127.0.0.1:9/hook"}
"""


def _ws(tmp_path, monkeypatch, limit: str | None, **env: str) -> Workspace:
    """A workspace whose settings have ``journey_late_limit = limit`` (None: the default)."""
    if limit is not None:
        monkeypatch.setenv("SIYU_JOURNEY_LATE_LIMIT", limit)
    for k, v in env.items():
        monkeypatch.setenv(f"SIYU_{k.upper()}", v)
    return Workspace.init(tmp_path / "ws", brand_name="小林咖啡")


def _delivered(ws) -> list[tuple[str, str, str]]:
    """Messages the dispatcher sent: (consumer, text, brand-local time sent), in order."""
    with ws.ops.engine.connect() as c:
        rows = c.execute(select(outbox).where(outbox.c.status == "sent")).mappings().all()
    return sorted((r["consumer_id"], r["payload"]["text"], shown(r["sent_at"])) for r in rows)


def _who(ws, logrow) -> str:
    from siyu.ops.tables import journey_enrolments as E

    with ws.ops.engine.connect() as c:
        return c.execute(select(E.c.consumer_id).where(E.c.id == logrow["enrolment_id"])
                         ).scalar()


def _enrol(ws, journey: str, entries: list[tuple[str, str]]) -> None:
    with ws.ops.engine.begin() as c:
        enrol_many(c, definition(c, journey, 1), 1,
                   [(cid, local(at), f"m:{cid}") for cid, at in entries])


ENTRIES = [("ca", "2025-03-03 10:00"),   # 72 h late at the worker's pass
           ("cb", "2025-03-04 10:00"),   # 48 h
           ("cc", "2025-03-05 10:00"),   # exactly 24 h: not more than the limit, sent
           ("cd", "2025-03-06 08:00")]   # 2 h late
BACK = local("2025-03-06 10:00")  # the worker comes back


def _down_three_days(tmp_path, monkeypatch, limit):
    ws = _ws(tmp_path, monkeypatch, limit)
    deploy(ws.ops, TWO_SENDS, actor="t")
    _enrol(ws, "late", ENTRIES)
    got = worker(ws, once=True, clock=lambda: BACK)
    return ws, got


def test_a_worker_down_three_days_suppresses_the_stale_sends(tmp_path, monkeypatch):
    ws, got = _down_three_days(tmp_path, monkeypatch, None)
    try:
        assert (got["entered"], got["passes"]) == (0, 1)
        # ca and cb: both their sends too late; cc's first exactly 24 h late, its second
        # 23 h: sent; cd's 2 h and 1 h late: sent — delivered when the worker reached them
        assert _delivered(ws) == [
            ("cc", "一", "2025-03-06 10:00"), ("cc", "二", "2025-03-06 10:00"),
            ("cd", "一", "2025-03-06 10:00"), ("cd", "二", "2025-03-06 10:00")]
        late = sorted((r["enrolment_id"], r["step"], r["reason"], r["detail"]["channel"])
                      for r in log(ws, "suppressed"))
        assert [(s, r, ch) for _, s, r, ch in late] == [("one", "too_late", "file"),
                                                        ("two", "too_late", "file")] * 2
        st_ = stats(ws, "late")
        assert (st_["entered"], st_["done"], st_["sends"]) == (4, 4, 4)
        assert st_["suppressions"] == {"too_late": 4}
    finally:
        ws.close()


def test_with_the_limit_off_everything_is_sent(tmp_path, monkeypatch):
    ws, got = _down_three_days(tmp_path, monkeypatch, "off")
    try:
        assert len(_delivered(ws)) == 8
        assert log(ws, "suppressed") == []
    finally:
        ws.close()


def test_a_shorter_limit(tmp_path, monkeypatch):
    ws, _ = _down_three_days(tmp_path, monkeypatch, "90m")
    try:  # only cd: its first send 2 h late (too late), its second 1 h (sent)
        assert [(c, t) for c, t, _ in _delivered(ws)] == [("cd", "二")]
        assert stats(ws, "late")["suppressions"] == {"too_late": 7}
    finally:
        ws.close()


def test_a_stale_webhook_is_not_called(tmp_path, monkeypatch):
    ws = _ws(tmp_path, monkeypatch, None)
    try:
        deploy(ws.ops, HOOK, actor="t")
        _enrol(ws, "hook", [("ca", "2025-03-03 10:00"), ("cd", "2025-03-06 08:00")])
        # the engine alone (no dispatcher: nothing is called)
        run_pass(ws, now=BACK, current=BACK)
        assert [(s["consumer_id"], s["channel"], s["at"]) for s in sends(ws)] == [
            ("cd", "webhook", "2025-03-06 10:00")]
        assert [(r["reason"], r["detail"]) for r in log(ws, "suppressed")] == [
            ("too_late", {"channel": "webhook"})]
    finally:
        ws.close()


COUPON_TASK = """\
name: ct
title: 券和任务
trigger: {type: manual}
steps:
  - coupon: {template_id: C-20, face_value: 20, valid_days: 7}
  - task: {kind: care, title: 关怀, due_in: 3d}
  - send: {channel: file, purpose: service, template: "券到了，是否查看？"}
"""


def test_stale_coupons_and_tasks(tmp_path, monkeypatch):
    """A coupon reached too late is not issued (its message is not sent either); one reached
    late within the limit is valid in full from its issue. A task is still created while its
    due time is not more than the limit past."""
    from siyu.ops.tables import coupon_grants, guide_tasks

    ws = _ws(tmp_path, monkeypatch, None)
    try:
        deploy(ws.ops, COUPON_TASK, actor="t")
        _enrol(ws, "ct", [("cb", "2025-03-01 10:00"),    # 5 days late: task due 2 days ago
                          ("ca", "2025-03-03 10:00"),    # 3 days: task due now
                          ("cd", "2025-03-06 08:00")])   # 2 hours
        run_pass(ws, now=BACK, current=BACK)
        with ws.ops.engine.connect() as c:
            grants = c.execute(select(coupon_grants.c.consumer_id, coupon_grants.c.issued_at,
                                      coupon_grants.c.expires_at)).all()
            tasks = sorted(c.execute(select(guide_tasks.c.consumer_id, guide_tasks.c.created_at,
                                            guide_tasks.c.due_at)).all())
        assert [(g[0], shown(g[1]), shown(g[2])) for g in grants] == [
            ("cd", "2025-03-06 10:00", "2025-03-13 10:00")]
        assert [(t[0], shown(t[1]), shown(t[2])) for t in tasks] == [
            ("ca", "2025-03-06 10:00", "2025-03-06 10:00"),
            ("cd", "2025-03-06 10:00", "2025-03-09 08:00")]
        assert [s["consumer_id"] for s in sends(ws)] == ["cd"]
        assert sorted((_who(ws, r), r["detail"].get("action") or r["detail"].get("channel"))
                      for r in log(ws, "suppressed")) == [
            ("ca", "coupon"), ("ca", "file"), ("cb", "coupon"), ("cb", "file"), ("cb", "task")]
        assert stats(ws, "ct")["suppressions"] == {"too_late": 5}
    finally:
        ws.close()


def test_a_late_send_reached_in_quiet_hours_waits_for_the_morning(tmp_path, monkeypatch):
    ws = _ws(tmp_path, monkeypatch, "12h")
    try:
        deploy(ws.ops, TWO_SENDS, actor="t")
        # the worker comes back at 23:00 (quiet hours 21:30–08:30): what it reaches waits
        # for 08:30 — unless it is too late by then. ce's first send (due 20:00) would go
        # 12.5 h late: suppressed; its second (21:00) and cg's first (21:00) go at 08:30
        _enrol(ws, "late", [("ce", "2025-03-05 20:00"), ("cg", "2025-03-05 21:00")])
        night = local("2025-03-05 23:00")
        run_pass(ws, now=night, current=night)
        assert sends(ws) == []
        assert sorted((_who(ws, r), r["step"], r["detail"]["until"])
                      for r in log(ws, "deferred")) == [
            ("ce", "two", "2025-03-06T00:30:00+00:00"),
            ("cg", "one", "2025-03-06T00:30:00+00:00")]
        assert [(_who(ws, r), r["step"], r["reason"]) for r in log(ws, "suppressed")] == [
            ("ce", "one", "too_late")]
        morning = local("2025-03-06 08:30")
        run_pass(ws, now=morning, current=morning)
        assert sorted((s["consumer_id"], s["text"], s["at"]) for s in sends(ws)) == [
            ("ce", "二", "2025-03-06 08:30"), ("cg", "一", "2025-03-06 08:30")]
    finally:
        ws.close()


def test_caps_count_on_the_day_the_send_is_queued(tmp_path, monkeypatch):
    """A marketing send due Wednesday 20:00, reached Thursday 10:00 (14 h late, within the
    limit), counts on Thursday: the consumer's on-time Thursday send is then over the cap of
    one per channel per day (before, both went: the late one counted on Wednesday)."""
    ws = _ws(tmp_path, monkeypatch, None)
    try:
        deploy(ws.ops, ONE_SEND.format(name="wed"), actor="t")
        deploy(ws.ops, ONE_SEND.format(name="thu"), actor="t")
        _enrol(ws, "wed", [("cx", "2025-03-05 20:00")])
        _enrol(ws, "thu", [("cx", "2025-03-06 09:30")])
        worker(ws, once=True, clock=lambda: BACK)
        assert _delivered(ws) == [("cx", "wed", "2025-03-06 10:00")]
        assert [(r["journey"], r["reason"]) for r in log(ws, "suppressed")] == [
            ("thu", "cap_channel_day")]
        with ws.ops.engine.connect() as c:
            assert sorted(c.execute(select(send_counters.c.bucket, send_counters.c.count))
                          .all()) == [("d:2025-03-06:file", 1), ("w:2025-W10", 1)]
    finally:
        ws.close()


# -- daily triggers after downtime --------------------------------------------------------

BIRTHDAY = """\
name: {name}
title: 生日
trigger: {{type: date, attribute: birthday, days_before: {n}}}
steps:
  - wait: {{days: {n}, until: "10:00"}}
  - send: {{channel: file, purpose: service, template: "{{name|亲}}，生日快乐！"}}
"""


def _birthdays(tmp_path, monkeypatch, limit):
    ws = _ws(tmp_path, monkeypatch, limit)
    b = Brand()
    for key, day in (("wecom:b4", "1990-03-04"), ("wecom:b5", "1990-03-05"),
                     ("wecom:b6", "1990-03-06"), ("wecom:b8", "1990-03-08")):
        b.add("consumers", consumer_key=key, name=key[-2:], birthday=day)
    b.load(ws, tmp_path)
    deploy(ws.ops, BIRTHDAY.format(name="on_the_day", n=0), actor="t")
    deploy(ws.ops, BIRTHDAY.format(name="two_before", n=2), actor="t")
    run_until(ws, local("2025-03-02 23:00"), start=local("2025-03-02 00:00"), deliver=False)
    # down from 2 March 23:00 until 6 March 09:00, then on time again at 10:05
    worker(ws, once=True, clock=lambda: local("2025-03-06 09:00"))
    worker(ws, once=True, clock=lambda: local("2025-03-06 10:05"))
    return ws


def test_daily_triggers_do_not_catch_up_days_long_past(tmp_path, monkeypatch):
    ws = _birthdays(tmp_path, monkeypatch, None)
    try:
        # on_the_day: the 4th and 5th began more than 24 h before 09:00 on the 6th: only b6
        # enters. two_before: the 3rd is about the 5th (over: b5 does not enter); the 4th–6th
        # are about the 6th–8th: b6 (entered at midnight of the 4th) and b8. b6 is greeted
        # by both at 10:00 on the 6th (the pass at 10:05)
        assert {j: stats(ws, j)["entered"] for j in ("on_the_day", "two_before")} == {
            "on_the_day": 1, "two_before": 2}
        assert [(t, at) for _, t, at in _delivered(ws)] == [
            ("b6，生日快乐！", "2025-03-06 10:05"), ("b6，生日快乐！", "2025-03-06 10:05")]
        assert log(ws, "suppressed") == []
    finally:
        ws.close()


def test_daily_triggers_catch_up_everything_with_the_limit_off(tmp_path, monkeypatch):
    ws = _birthdays(tmp_path, monkeypatch, "off")
    try:
        assert {j: stats(ws, j)["entered"] for j in ("on_the_day", "two_before")} == {
            "on_the_day": 3, "two_before": 3}
        # the greetings of the 4th and 5th go days late (the old behaviour)
        assert sorted(t for _, t, _ in _delivered(ws)) == [
            "b4，生日快乐！", "b5，生日快乐！", "b5，生日快乐！", "b6，生日快乐！", "b6，生日快乐！"]
    finally:
        ws.close()


def test_the_setting_is_validated(tmp_path, monkeypatch):
    from siyu.config import load_settings
    from siyu.errors import SiyuError

    for ok in ("24h", "90m", "2d", "0", "off", "OFF"):
        load_settings(None, journey_late_limit=ok)
    with pytest.raises(SiyuError, match="journey_late_limit"):
        load_settings(None, journey_late_limit="soon")


# -- the invariant ------------------------------------------------------------------------

@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(late=st.lists(st.integers(0, 5 * 24 * 60), min_size=1, max_size=10),
       limit_h=st.integers(1, 72))
def test_no_send_leaves_later_than_the_limit(tmp_path_factory, late, limit_h):
    """Sends due ``late`` minutes before the pass (quiet hours off, service purpose): exactly
    those at most ``limit_h`` hours late are queued, the others are suppressed as too_late."""
    home = tmp_path_factory.mktemp("p") / "ws"
    ws = Workspace.init(home, brand_name="小林咖啡")
    try:
        s = ws.settings
        s.journey_late_limit, s.quiet_hours_start, s.quiet_hours_end = \
            f"{limit_h}h", "00:00", "00:00"
        deploy(ws.ops, ONE_SEND.format(name="p").replace("template", "purpose: service, "
                                                         "template"), actor="t")
        with ws.ops.engine.begin() as c:
            enrol_many(c, definition(c, "p", 1), 1,
                       [(f"c{i:03d}", BACK - timedelta(minutes=m), "m")
                        for i, m in enumerate(late)])
        run_pass(ws, now=BACK, current=BACK)
        sent = sorted(r["consumer_id"] for r in sends(ws))
        assert sent == sorted(f"c{i:03d}" for i, m in enumerate(late) if m <= limit_h * 60)
        assert len(log(ws, "suppressed")) == len(late) - len(sent)
        assert {r["reason"] for r in log(ws, "suppressed")} <= {"too_late"}
    finally:
        ws.close()
