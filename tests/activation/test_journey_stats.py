"""Measurement: goal conversions per split arm and holdout with the difference and its 95 %
confidence interval; and the whole path to delivery (the file channel) under `siyu run`."""

from __future__ import annotations

import json
import math

from siyu.activation.measurement import diff_ci
from siyu.activation.steps import split_arm
from siyu.workspace import Workspace
from tests.models.builder import Brand

SPLIT = """\
name: ab
title: 券面额实验
trigger: {type: event, event: relationship, where: {field: guide}}
goal: {event: order, within_days: 7}
steps:
  - split:
      arms:
        - {name: big, share: 40, goto: big}
        - {name: small, share: 40, goto: small}
      holdout: 20
  - id: big
    send: {channel: file, template: "20 元券"}
    next: end
  - id: small
    send: {channel: file, template: "10 元券"}
"""


def test_diff_ci_exact():
    got = diff_ci(30, 100, 20, 100)
    se = math.sqrt(0.3 * 0.7 / 100 + 0.2 * 0.8 / 100)
    assert got == {"diff": 0.1, "ci_low": round(0.1 - 1.959963984540054 * se, 6),
                   "ci_high": round(0.1 + 1.959963984540054 * se, 6)}
    assert got["ci_low"] == -0.01922 and got["ci_high"] == 0.21922
    assert diff_ci(1, 0, 2, 10) == {"diff": None, "ci_low": None, "ci_high": None}


def test_split_shares_are_honoured():
    arms = [{"name": "a", "share": 30, "goto": "x"}, {"name": "b", "share": 50, "goto": "y"}]
    got: dict[str, int] = {}
    for i in range(20_000):
        a = split_arm(f"e{i}", "s1", arms, 20)["name"]
        got[a] = got.get(a, 0) + 1
    assert abs(got["a"] / 20_000 - 0.3) < 0.015 and abs(got["b"] / 20_000 - 0.5) < 0.015
    assert abs(got["holdout"] / 20_000 - 0.2) < 0.015
    assert split_arm("e1", "s1", arms, 20) == split_arm("e1", "s1", arms, 20)  # stable


def test_goal_per_arm_and_delivery(tmp_path, cli, monkeypatch):
    b = Brand()
    for i in range(1, 41):
        b.rel(f"wecom:u{i}", "guide", "start", "2025-03-03 10:00", "g1")
    for i in range(1, 13):  # u1–u12 buy within the week, u13 after it
        b.order(f"wecom:u{i}", "2025-03-06 12:00", 99.0)
    b.order("wecom:u13", "2025-03-11 12:00", 99.0)
    ws = Workspace.init(tmp_path / "ws")
    b.load(ws, tmp_path)
    who = {c: int(k.split(":u")[1]) for c, k in
           ws.warehouse.raw.execute("SELECT consumer_id, key FROM identity_map").fetchall()}
    ws.close()
    home = tmp_path / "ws"
    f = tmp_path / "ab.yaml"
    f.write_text(SPLIT, encoding="utf-8")
    cli("journey", "deploy", f, "--home", home)
    got = cli.json("run", "--from", "2025-03-03", "--until", "2025-03-04", "--home", home)
    assert got["entered"] == 40
    st = cli.json("journey", "stats", "ab", "--home", home)

    ws = Workspace.open(home)
    from sqlalchemy import select

    from siyu.ops.tables import journey_enrolments as E
    from siyu.ops.tables import outbox

    with ws.ops.engine.connect() as c:
        arms = dict(c.execute(select(E.c.consumer_id, E.c.arm)).all())
        status = set(c.execute(select(outbox.c.status)).scalars())
    expect: dict[str, list[int]] = {}
    for cid, arm in arms.items():
        e = expect.setdefault(arm, [0, 0])
        e[0] += 1
        e[1] += who[cid] <= 12
    assert set(expect) == {"big", "small", "holdout"}
    assert st["goal"]["arms"] == {a: {"enrolled": n, "converted": k, "rate": round(k / n, 6)}
                                  for a, (n, k) in sorted(expect.items())}
    h = expect["holdout"]
    assert st["goal"]["vs_holdout"] == {a: diff_ci(k, n, h[1], h[0])
                                        for a, (n, k) in expect.items() if a != "holdout"}
    assert st["steps"] == {"s1": 40, "big": expect["big"][0], "small": expect["small"][0]}
    assert st["sends"] == 40 - h[0]
    # delivered by the file channel: one line per message, every outbox row sent
    assert status == {"sent"}
    lines = [json.loads(x) for p in sorted((home / "outbox").glob("*.jsonl"))
             for x in p.read_text(encoding="utf-8").splitlines()]
    assert sorted(x["payload"]["text"] for x in lines) == sorted(
        ["20 元券"] * expect["big"][0] + ["10 元券"] * expect["small"][0])
    ws.close()
    # the same figures for people: Chinese first, English with SIYU_LANG=en
    big, ci = st["goal"]["arms"]["big"], st["goal"]["vs_holdout"]["big"]
    monkeypatch.setenv("SIYU_LANG", "zh")
    text = cli("journey", "stats", "ab", "--home", home).output
    assert f"ab：进入 40，进行中 0，完成 40，退出 0；发送 {40 - h[0]}" in text
    assert "目标：7 天内 order" in text
    assert f"  big：{big['converted']}/{big['enrolled']}（{big['rate']:.1%}）" in text
    assert (f"  big 对比对照组：{ci['diff']:+.4f}，95% 置信区间 [{ci['ci_low']:+.4f}, "
            f"{ci['ci_high']:+.4f}]") in text
    monkeypatch.setenv("SIYU_LANG", "en")
    text = cli("journey", "stats", "ab", "--home", home).output
    assert "goal: order within 7 days" in text and "  big vs holdout: " in text
    # the clock cannot go back; the message names brand-local times
    r = cli("run", "--until", "2025-03-01", "--home", home, ok=False)
    assert r.exit_code == 2 and ("--until 2025-03-01 00:00 Asia/Shanghai is before the "
                                 "simulated clock (2025-03-04 00:00 Asia/Shanghai)") in r.output
