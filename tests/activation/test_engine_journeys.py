"""The engine on a hand-built brand under the simulated clock: who got what, when — event
trigger, quiet hours, a branch on "did X happen within the wait", exit conditions, re-entry,
consent, goal measurement, pause/resume and versioning."""

from __future__ import annotations

import pytest

from siyu.activation.store import deploy
from siyu.workspace import Workspace
from tests.activation.journey_support import log, sends
from tests.models.builder import Brand

WELCOME = """\
name: welcome
title: 新好友欢迎
trigger: {type: event, event: relationship, where: {field: guide}}
exit_when:
  - {event: order, where: {min_amount: 500}}
goal: {event: order, within_days: 14}
steps:
  - id: hello
    send: {channel: file, template: "{name|亲}，欢迎成为{brand}的好友！"}
  - id: wait3
    wait: {days: 3, until: "10:00"}
  - id: talked
    branch:
      if: {event: message, since: wait}
      then: end
      else: nudge
  - id: nudge
    send: {channel: file, template: "{name|亲}，新人礼已为您备好，是否查看？"}
"""


def brand() -> Brand:
    b = Brand()
    for i, name in enumerate(("王芳", "李娜", "张伟", "刘洋", "陈静"), 1):
        b.add("consumers", consumer_key=f"wecom:u{i}", name=name)
    # u1: friend at 11:00 on Mon 3 March, writes on the 5th (within the wait) → no nudge
    b.rel("wecom:u1", "guide", "start", "2025-03-03 11:00", "g1")
    b.add("interactions", consumer_key="wecom:u1", field="guide", type="message",
          occurred_at="2025-03-05 15:00", text="谢谢")
    # u2: friend at 22:00 (quiet hours) → welcome at 08:30; silent → nudge on the 7th 10:00
    b.rel("wecom:u2", "guide", "start", "2025-03-03 22:00", "g1")
    # u3: buys for ¥600 on the 4th → leaves before the branch (exit_when), converted
    b.rel("wecom:u3", "guide", "start", "2025-03-03 12:00", "g2")
    b.order("wecom:u3", "2025-03-04 09:00", 600.0)
    # u4: revoked marketing on WeCom before → both sends suppressed (consent)
    b.rel("wecom:u4", "guide", "start", "2025-03-03 12:30", "g2")
    b.add("consents", consumer_key="wecom:u4", purpose="marketing", granted=False,
          channel="wecom", occurred_at="2025-03-01 09:00")
    # u5: two guides → enters once (re-entry: never); writes only after the wait → nudged;
    # buys ¥80 on the 20th: outside the 14-day goal window. 3 days after 10:00 is 10:00: the
    # nudge goes on the 6th
    b.rel("wecom:u5", "guide", "start", "2025-03-03 10:00", "g1")
    b.rel("wecom:u5", "guide", "start", "2025-03-04 10:00", "g2")
    b.add("interactions", consumer_key="wecom:u5", field="guide", type="message",
          occurred_at="2025-03-08 15:00", text="好的")
    b.order("wecom:u5", "2025-03-20 09:00", 80.0)
    # u6 is a friend before the journey starts: not enrolled
    b.rel("wecom:u6", "guide", "start", "2025-03-02 10:00", "g1")
    return b


@pytest.fixture
def home(tmp_path):
    ws = Workspace.init(tmp_path / "ws", brand_name="小林咖啡")
    brand().load(ws, tmp_path)
    deploy(ws.ops, WELCOME, actor="test")
    ws.close()
    return tmp_path / "ws"


@pytest.fixture
def who(home):
    ws = Workspace.open(home)
    idm = ws.warehouse.raw.execute("SELECT consumer_id, key FROM identity_map").fetchall()
    ws.close()
    return {cid: key.split(":")[1] for cid, key in idm}


def test_who_got_what_when(cli, home, who):
    got = cli.json("run", "--from", "2025-03-03", "--until", "2025-03-12", "--no-deliver",
                   "--home", home)
    assert got["entered"] == 5 and got["clock"] == "2025-03-11T16:00:00+00:00"
    ws = Workspace.open(home)
    out = [(who[s["consumer_id"]], s["at"], s["text"]) for s in sends(ws)]
    assert out == [
        ("u5", "2025-03-03 10:00", "陈静，欢迎成为小林咖啡的好友！"),
        ("u1", "2025-03-03 11:00", "王芳，欢迎成为小林咖啡的好友！"),
        ("u3", "2025-03-03 12:00", "张伟，欢迎成为小林咖啡的好友！"),
        ("u2", "2025-03-04 08:30", "李娜，欢迎成为小林咖啡的好友！"),
        ("u5", "2025-03-06 10:00", "陈静，新人礼已为您备好，是否查看？"),
        ("u2", "2025-03-07 10:00", "李娜，新人礼已为您备好，是否查看？"),
    ]
    supp = sorted((who[_cid(ws, r)], r["step"], r["reason"]) for r in log(ws, "suppressed"))
    assert supp == [("u4", "hello", "consent"), ("u4", "nudge", "consent")]
    deferred = [(who[_cid(ws, r)], r["reason"], r["detail"]["until"]) for r in
                log(ws, "deferred")]
    assert deferred == [("u2", "quiet_hours", "2025-03-04T00:30:00+00:00")]
    st = cli.json("journey", "stats", "welcome", "--home", home)
    assert {k: st[k] for k in ("entered", "active", "done", "exited", "sends", "deferred",
                               "suppressions")} == {
        "entered": 5, "active": 0, "done": 4, "exited": 1, "sends": 6, "deferred": 1,
        "suppressions": {"consent": 2}}
    assert st["steps"] == {"hello": 5, "wait3": 5, "talked": 4, "nudge": 3}
    assert st["goal"] == {"event": "order", "within_days": 14,
                          "arms": {"all": {"enrolled": 5, "converted": 1, "rate": 0.2}}}
    ws.close()


def _cid(ws, logrow) -> str:
    from sqlalchemy import select

    from siyu.ops.tables import journey_enrolments as E

    with ws.ops.engine.connect() as c:
        return c.execute(select(E.c.consumer_id).where(E.c.id == logrow["enrolment_id"])
                         ).scalar()


def test_runs_in_several_pieces_give_the_same_answer(cli, home, who):
    cli("run", "--from", "2025-03-03", "--until", "2025-03-04T09:00", "--tick", "5h",
        "--no-deliver", "--home", home)
    cli("run", "--until", "2025-03-06", "--tick", "7h", "--no-deliver", "--home", home)
    cli("run", "--until", "2025-03-12", "--no-deliver", "--home", home)
    ws = Workspace.open(home)
    out = [(who[s["consumer_id"]], s["at"]) for s in sends(ws)]
    ws.close()
    assert out == [("u5", "2025-03-03 10:00"), ("u1", "2025-03-03 11:00"),
                   ("u3", "2025-03-03 12:00"), ("u2", "2025-03-04 08:30"),
                   ("u5", "2025-03-06 10:00"), ("u2", "2025-03-07 10:00")]


def _paused_then_resumed(cli, home, who, until="2025-03-12T01:00") -> list[str]:
    cli("run", "--from", "2025-03-03", "--until", "2025-03-03T12:10", "--no-deliver",
        "--home", home)
    assert cli.json("journey", "pause", "welcome", "--home", home)["status"] == "paused"
    cli("run", "--until", "2025-03-12", "--no-deliver", "--home", home)
    ws = Workspace.open(home)
    assert [who[s["consumer_id"]] for s in sends(ws)] == ["u5", "u1", "u3"]
    ws.close()
    cli("journey", "resume", "welcome", "--home", home)
    cli("run", "--until", until, "--no-deliver", "--home", home)
    ws = Workspace.open(home)
    try:
        return sorted(who[s["consumer_id"]] for s in sends(ws))
    finally:
        ws.close()


def test_pause_holds_entries_and_steps(cli, home, who):
    # what fell due meanwhile runs at resume, at its own logical time; u2 still enters. Its
    # sends are days old by then (journey_late_limit 24h): suppressed as too_late
    assert _paused_then_resumed(cli, home, who) == ["u1", "u3", "u5"]
    ws = Workspace.open(home)
    late = sorted((who[_cid(ws, r)], r["step"]) for r in log(ws, "suppressed")
                  if r["reason"] == "too_late")
    ws.close()
    # u4 entered at resume too (consent would have stopped it anyway: lateness is judged first)
    assert late == [("u2", "hello"), ("u2", "nudge"), ("u4", "hello"), ("u4", "nudge"),
                    ("u5", "nudge")]


def test_pause_without_a_late_limit_sends_everything(cli, home, who, monkeypatch):
    monkeypatch.setenv("SIYU_JOURNEY_LATE_LIMIT", "off")
    # nothing is too late; reached at midnight (quiet hours), the stale sends go at 08:30 and
    # u2's nudge three days after its welcome
    assert _paused_then_resumed(cli, home, who, "2025-03-16") == ["u1", "u2", "u2", "u3",
                                                                  "u5", "u5"]
    ws = Workspace.open(home)
    got = sorted((s["at"], who[s["consumer_id"]], s["step"]) for s in sends(ws))[3:]
    ws.close()
    assert got == [("2025-03-12 08:30", "u2", "hello"), ("2025-03-12 08:30", "u5", "nudge"),
                   ("2025-03-15 10:00", "u2", "nudge")]


def test_definition_change_applies_to_new_enrolments_only(cli, home, who, tmp_path):
    cli("run", "--from", "2025-03-03", "--until", "2025-03-03T12:10", "--no-deliver",
        "--home", home)
    v2 = tmp_path / "v2.yaml"
    v2.write_text(WELCOME.replace("新人礼已为您备好", "第二版：新人礼"), encoding="utf-8")
    assert cli.json("journey", "deploy", v2, "--home", home)["version"] == 2
    cli("run", "--until", "2025-03-12", "--no-deliver", "--home", home)
    ws = Workspace.open(home)
    nudges = sorted((who[s["consumer_id"]], s["text"][3:8]) for s in sends(ws)
                    if s["step"] == "nudge")
    ws.close()
    # u5 entered on version 1 (before the change), u2 on version 2
    assert nudges == [("u2", "第二版：新"), ("u5", "新人礼已为")]


UNREAD = """\
name: unread
title: 未读提醒
trigger: {type: manual}
steps:
  - send: {channel: file, purpose: service, template: "通知"}
  - wait: {hours: 1}
  - branch: {if: {sent_unread: true}, then: again, else: end}
  - id: again
    send: {channel: file, purpose: service, template: "再次提醒"}
"""


def test_branch_on_an_unread_message(ws):
    from datetime import timedelta

    from sqlalchemy import update

    from siyu.activation.engine import enrol_many, run_pass
    from siyu.activation.store import definition
    from siyu.ops.tables import outbox
    from tests.activation.journey_support import local

    deploy(ws.ops, UNREAD, actor="t")
    t = local("2025-03-03 10:00")
    a, b = "c000000000000000a", "c000000000000000b"
    with ws.ops.engine.begin() as c:
        enrol_many(c, definition(c, "unread", 1), 1, [(a, t, "m"), (b, t, "m")])
    run_pass(ws, now=t)
    with ws.ops.engine.begin() as c:  # a channel reports b's message read
        c.execute(update(outbox).where(outbox.c.consumer_id == b).values(
            read_at=t + timedelta(minutes=5)))
    run_pass(ws, now=t + timedelta(hours=2))
    assert sorted((s["consumer_id"], s["text"]) for s in sends(ws)) == [
        (a, "再次提醒"), (a, "通知"), (b, "通知")]
