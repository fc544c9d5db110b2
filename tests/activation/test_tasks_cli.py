"""`siyu task …` and `siyu guide …` end to end on a hand-built brand (real workspace, real
SQLite, the CLI in-process)."""

from __future__ import annotations

import pytest

from tests.activation.tasks_brand import brand, consumer_ids


@pytest.fixture
def shop(ws, tmp_path):
    b = brand()
    b.order("phone:13800000001", "2025-02-16 20:00", 50.0)  # 15 days before 2025-03-03
    b.order("phone:13800000002", "2025-02-16 21:00", 80.0)
    b.load(ws, tmp_path)
    return ws, consumer_ids(ws)


def test_generate_list_done_skip_stats(shop, cli):
    ws, ids = shop
    home = str(ws.home)
    got = cli.json("task", "generate", "--as-of", "2025-03-03", "--home", home)
    assert got["rules"][0] == {"rule": "post_purchase_invite", "selected": 2, "created": 2,
                               "existing": 0}
    assert got["rules_file"].endswith("task_rules.yaml")
    lst = cli.json("task", "list", "--guide", "g1", "--at", "2025-03-03T10:00", "--home", home)
    assert lst["count"] == 1
    [t] = lst["tasks"]
    assert (t["consumer_id"], t["kind"], t["status"], t["overdue"], t["due_at"]) == (
        ids["phone:13800000001"], "invite", "open", False, "2025-03-05T16:00:00+00:00")
    done = cli.json("task", "done", t["task_id"], "--result", "已添加企业微信",
                    "--at", "2025-03-03T11:00", "--home", home)
    assert (done["status"], done["result"]) == ("done", "已添加企业微信")
    [t2] = cli.json("task", "list", "--guide", "g2", "--home", home)["tasks"]
    assert cli.json("task", "skip", t2["task_id"], "--reason", "顾客已是好友",
                    "--home", home)["status"] == "skipped"
    r = cli("task", "done", t2["task_id"], "--home", home, ok=False)
    assert r.exit_code == 1 and "already skipped" in r.output
    r = cli("task", "skip", "t000", "--reason", "x", "--home", home, ok=False)
    assert r.exit_code == 2 and "no task t000" in r.output
    stats = cli.json("task", "stats", "--at", "2025-03-04", "--home", home)
    assert stats == {"by": "guide", "rows": [
        {"guide": "g1", "open": 0, "waiting": 0, "done": 1, "skipped": 0, "expired": 0,
         "overdue": 0, "completion_rate": 1.0},
        {"guide": "g2", "open": 0, "waiting": 0, "done": 0, "skipped": 1, "expired": 0,
         "overdue": 0, "completion_rate": 0.0}]}
    shown = cli.json("task", "show", t["task_id"], "--home", home)
    assert [e["event"] for e in shown["history"]] == ["created", "done"]
    text = cli("task", "list", "--guide", "g1", "--status", "done", "--home", home).output
    assert t["task_id"] in text and "g1" in text
    r = cli("task", "list", "--status", "finished", "--home", home, ok=False)
    assert r.exit_code == 2 and "status 'finished'" in r.output


def test_guide_sync_and_handover(shop, cli):
    ws, ids = shop
    home = str(ws.home)
    assert cli.json("guide", "sync", "--at", "2025-03-03", "--home", home) == {
        "guides": 4, "consumers": 4, "held": 3}
    cli.json("task", "generate", "--as-of", "2025-03-03", "--home", home)
    got = cli.json("guide", "handover", "g1", "g3", "--at", "2025-03-03T12:00",
                   "--home", home)
    assert (got["from"], got["to"], got["consumers"], got["tasks"]) == ("g1", "g3", 1, 1)
    assert cli.json("task", "list", "--guide", "g1", "--home", home)["count"] == 0
    [t] = cli.json("task", "list", "--guide", "g3", "--home", home)["tasks"]
    assert (t["consumer_id"], t["assigned_by"]) == (ids["phone:13800000001"], "handover")
    [h] = cli.json("guide", "handovers", "--home", home)["handovers"]
    assert h["handover_id"] == got["handover_id"]
    r = cli("guide", "handover", "g1", "gx", "--home", home, ok=False)
    assert r.exit_code == 2 and "has left" in r.output


def test_messages_are_chinese_by_default(shop, cli, monkeypatch):
    ws, _ = shop
    monkeypatch.setenv("SIYU_LANG", "zh")
    r = cli("guide", "handover", "g1", "g1", "--home", str(ws.home), ok=False)
    assert "不能把导购 g1 的客户交接给自己" in r.output
    out = cli("task", "list", "--home", str(ws.home)).output
    assert "没有任务" in out
    cli("task", "generate", "--as-of", "2025-03-03", "--home", str(ws.home))
    out = cli("task", "stats", "--at", "2025-03-10", "--home", str(ws.home)).output
    assert all(h in out for h in ("导购", "进行中", "已完成", "逾期", "完成率"))
    monkeypatch.setenv("SIYU_LANG", "en")
    out = cli("task", "stats", "--by", "store", "--home", str(ws.home)).output
    assert all(h in out for h in ("store", "open", "done", "overdue", "completion"))
