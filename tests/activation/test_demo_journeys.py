"""``siyu demo`` ends with journeys running on the generated brand: shipped templates under the
simulated clock over the last 14 days, messages delivered to the file channel (never WeCom or
SMS), and the summary agrees with ``siyu outbox list``, ``siyu journey stats`` and the tasks."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from siyu.demo.journeys import DEMO_TEMPLATES, as_file_channel
from siyu.ops.tables import guide_tasks, outbox
from siyu.workspace import Workspace


def test_demo_runs_journeys_to_the_file_channel(tmp_path, cli):
    d = tmp_path / "demo"
    got = cli.json("demo", "--dir", d, "--consumers", "2000", "--days", "30", "--seed", "3",
                   "--no-serve")
    j = got["journeys"]
    assert j["journeys"] == list(DEMO_TEMPLATES) == list(j["enrolled"])
    assert (j["from"], j["until"], j["passes"]) == ("2025-12-18", "2025-12-31", 14)
    assert j["enrolled"]["welcome_guide_friend"] > 0 and j["enrolled"]["birthday_care"] > 0
    assert j["messages"] > 0 and j["delivered"] == j["messages"] and j["tasks"] > 0
    assert got["seconds"]["journeys"] >= 0

    # every message went to the file channel, one JSON line each
    box = cli.json("outbox", "list", "--home", d)
    assert box["counts"] == {"file": {"sent": j["messages"]}}
    lines = [json.loads(x) for f in sorted((d / "outbox").glob("*.jsonl"))
             for x in f.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == j["messages"] == len({x["idempotency_key"] for x in lines})
    assert {x["channel"] for x in lines} == {"file"}

    listed = {r["name"]: r["entered"] for r in cli.json("journey", "list", "--home", d)
              ["journeys"]}
    assert listed == j["enrolled"]
    stats = [cli.json("journey", "stats", n, "--home", d) for n in DEMO_TEMPLATES]
    assert sum(s["sends"] for s in stats) == j["messages"]
    assert [s["entered"] for s in stats] == list(j["enrolled"].values())
    supp: dict[str, int] = {}
    for s in stats:
        for k, v in s["suppressions"].items():
            supp[k] = supp.get(k, 0) + v
    assert supp == j["suppressed"]
    ws = Workspace.open(d)
    with ws.ops.engine.connect() as c:
        assert c.execute(select(func.count()).select_from(guide_tasks)).scalar() == j["tasks"]
        assert set(c.execute(select(outbox.c.channel).distinct()).scalars()) == {"file"}
    ws.close()


def test_demo_templates_send_on_the_file_channel_only():
    text = "steps:\n  - send: {channel: wecom, template: x}\n  - send:\n      channel: sms\n"
    assert as_file_channel(text) == ("steps:\n  - send: {channel: file, template: x}\n"
                                     "  - send:\n      channel: file\n")
