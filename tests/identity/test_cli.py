"""``siyu identity resolve|conflicts`` and ``siyu consumer show`` through the CLI."""

from __future__ import annotations

import json

import pytest

from .helpers import add_keys, add_links, cid

P1, P2 = "phone:13800001111", "phone:13900002222"


@pytest.fixture
def home(ws):
    add_keys(ws, {P1: 1, "unionid:u": 2, P2: 3, "email:bob@example.com": 4})
    add_links(ws, [(P1, "unionid:u", 1), ("unionid:u", P2, 2),
                   ("email:bob@example.com", "unionid:u", 3)])
    ws.warehouse.raw.execute("""INSERT INTO orders (order_id, consumer_key, paid_at, amount)
        VALUES ('o1', 'unionid:u', TIMESTAMPTZ '2024-01-01 00:00:00+00', 88.8)""")
    ws.close()  # the CLI opens the workspace itself
    return str(ws.home)


def test_resolve_json_is_one_object_with_the_report(cli, home):
    r = cli("identity", "resolve", "--home", home, "--json")
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 1
    rep = json.loads(lines[0])
    assert {k: rep[k] for k in ("keys", "consumers", "links", "multi_key_consumers",
                                "largest_component", "conflicts", "new_consumers", "merged",
                                "split", "unchanged")} == {
        "keys": 4, "consumers": 2, "links": 3, "multi_key_consumers": 1,
        "largest_component": 3, "conflicts": 1, "new_consumers": 2, "merged": 0, "split": 0,
        "unchanged": 0}
    assert rep["seconds"] >= 0
    assert rep["conflict_examples"][0]["key_b"] == "phone:139****2222"
    assert "13900002222" not in r.stdout and "bob@" not in r.stdout


def test_resolve_human_summary(cli, home):
    r = cli("identity", "resolve", "--home", home)
    assert "consumers" in r.stdout and "siyu identity conflicts" in r.stdout
    assert "13900002222" not in r.stdout


def test_resolve_summary_in_chinese(cli, home, monkeypatch):
    monkeypatch.setenv("SIYU_LANG", "zh")
    r = cli("identity", "resolve", "--home", home)
    assert "消费者" in r.stdout


def test_conflicts_listed_masked(cli, home):
    cli("identity", "resolve", "--home", home)
    data = cli.json("identity", "conflicts", "--home", home)
    assert data["total"] == 1 and data["shown"] == 1
    c = data["conflicts"][0]
    assert (c["key_a"], c["key_b"], c["reason"]) == ("unionid:u", "phone:139****2222",
                                                     "guard:phone")
    assert c["kept_consumer_id_a"] == cid(P1) and c["kept_consumer_id_b"] == cid(P2)
    assert cli.json("identity", "conflicts", "--home", home, "--limit", "0")["shown"] == 0
    r = cli("identity", "conflicts", "--home", home)
    assert "139****2222" in r.stdout and "13900002222" not in r.stdout


def test_consumer_show_json_masked_and_unmasked(cli, home):
    cli("identity", "resolve", "--home", home)
    p = cli.json("consumer", "show", "phone:138-0000-1111", "--home", home)
    assert p["consumer_id"] == cid(P1)
    assert [k["key"] for k in p["keys"]] == ["phone:138****1111", "unionid:u",
                                             "email:b***@example.com"]
    assert p["orders"]["gmv"] == 88.8
    p = cli.json("consumer", "show", cid(P1), "--unmask", "--home", home)
    assert [k["key"] for k in p["keys"]][0] == P1


def test_consumer_show_human(cli, home):
    cli("identity", "resolve", "--home", home)
    r = cli("consumer", "show", "unionid:u", "--home", home)
    assert cid(P1) in r.stdout and "138****1111" in r.stdout
    assert "13800001111" not in r.stdout and "88.80" in r.stdout


def test_consumer_show_errors(cli, home):
    r = cli("consumer", "show", "unionid:u", "--home", home, ok=False)
    assert r.exit_code == 1 and "siyu identity resolve" in r.output
    cli("identity", "resolve", "--home", home)
    r = cli("consumer", "show", "unionid:ghost", "--home", home, "--json", ok=False)
    assert r.exit_code == 1 and "unknown consumer key" in r.output and r.stdout == ""
    r = cli("consumer", "show", "phone:12345", "--home", home, ok=False)
    assert r.exit_code == 2 and "11-digit" in r.output
