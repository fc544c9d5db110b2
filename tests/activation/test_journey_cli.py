"""The journey commands end to end: deploy, list, show, enrol, worker --once (real clock),
stats, pause/resume — each `--json` output is one object."""

from __future__ import annotations

from siyu.activation.clock import now_utc

HELLO = """\
name: hello
title: 你好
trigger: {type: manual}
steps:
  - send: {channel: console, purpose: service, template: "{brand}：您的订单已发货"}
  - wait: {days: 2}
  - send: {channel: console, template: "第二条"}
"""
C1, C2 = "c00000000000000c1", "c00000000000000c2"


def test_commands(cli, ws, tmp_path, monkeypatch):
    monkeypatch.setenv("SIYU_QUIET_HOURS_START", "00:00")  # the real clock decides
    monkeypatch.setenv("SIYU_QUIET_HOURS_END", "00:00")
    home = ws.home
    ws.close()
    f = tmp_path / "hello.yaml"
    f.write_text(HELLO, encoding="utf-8")
    assert cli.json("journey", "deploy", f, "--home", home) == {
        "name": "hello", "version": 1, "changed": True, "status": "active"}
    assert cli.json("journey", "enrol", "hello", C1, C2, "--home", home) == {
        "journey": "hello", "requested": 2, "entered": 2}
    # re-entry policy never: a second enrolment of the same people does nothing
    assert cli.json("journey", "enrol", "hello", C1, "--home", home)["entered"] == 0
    got = cli.json("worker", "--once", "--worker-id", "w1", "--home", home)
    assert got == {"entered": 0, "advanced": 2, "passes": 1}
    (row,) = cli.json("journey", "list", "--home", home)["journeys"]
    assert row == {"name": "hello", "title": "你好", "version": 1, "status": "active",
                   "trigger": "manual", "active": 2, "entered": 2}
    st = cli.json("journey", "stats", "hello", "--home", home)
    assert (st["sends"], st["steps"], st["goal"]) == (2, {"s1": 2, "s2": 2, "s3": 0}, None)
    shown = cli.json("journey", "show", "hello", "--home", home)
    assert shown["source"] == HELLO and [v["version"] for v in shown["versions"]] == [1]
    assert cli.json("journey", "pause", "hello", "--home", home)["status"] == "paused"
    assert cli.json("journey", "list", "--home", home)["journeys"][0]["status"] == "paused"
    r = cli("journey", "show", "nope", "--home", home, ok=False)
    assert r.exit_code == 1 and "no journey named 'nope'" in r.output
    from siyu.workspace import Workspace
    from tests.activation.journey_support import sends

    w = Workspace.open(home)
    out = sends(w)
    w.close()
    assert sorted((s["consumer_id"], s["text"], s["channel"]) for s in out) == [
        (C1, "测试品牌：您的订单已发货", "console"), (C2, "测试品牌：您的订单已发货", "console")]
    assert all(abs((now_utc() - _utc(s["at"])).total_seconds()) < 600 for s in out)


def _utc(shown: str):
    from tests.activation.journey_support import local

    return local(shown)
