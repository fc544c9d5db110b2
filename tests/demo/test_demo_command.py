"""`siyu demo` end to end on a small brand, and `siyu summary`."""

from __future__ import annotations

from siyu.cli.demo_cmds import DEMO_MARKER


def test_demo_builds_a_workspace_and_can_be_rebuilt(tmp_path, cli):
    d = tmp_path / "demo"
    got = cli.json("demo", "--dir", d, "--consumers", "600", "--days", "60", "--seed", "3")
    imp, idr, s = got["import"], got["identity"], got["summary"]
    assert imp["read"] == sum(got["generated"].values())
    assert imp["loaded"] + imp["duplicates"] + imp["rejected"] == imp["read"]
    assert imp["rejected"] > 0 and imp["duplicates"] > 0   # the generator's dirty rows
    assert s["rows"]["orders"] > 0 and s["paid_orders"] <= s["rows"]["orders"]
    assert 0 < s["members_now"] <= s["private_domain_now"] <= s["consumers"]
    assert idr["consumers"] == s["consumers"] and idr["keys"] == s["keys"]
    assert (d / DEMO_MARKER).exists() and (d / "source" / "orders.parquet").exists()
    fast = got["fast"]  # the FAST+ diagnosis of the last full month of the data
    assert fast["period"] == "2025-12"
    assert sum(fast["tiers"].values()) == fast["capital"] > 0
    assert fast == cli.json("metrics", "fast", "--period", "2025-12", "--home", d)
    # what the console reads is ready: the six months 2025-07…12 stored, tags at the last
    # day, the consumer lookup index
    c = got["console"]
    assert c["months"] == 6
    assert c["tags"] > 0 and c["lookup_rows"] > s["rows"]["orders"]
    assert cli.json("metrics", "compute", "--from", "2025-07", "--to", "2025-12",
                    "--home", d)["computed"] == []  # all stored and fresh
    status = cli.json("consumer", "index", "--status", "--home", d)
    assert status["tables"] and all(t["usable"] for t in status["tables"])

    again = cli.json("demo", "--dir", d, "--consumers", "600", "--days", "60", "--seed", "3")
    assert again["summary"] == s                      # same seed, same brand, same numbers
    assert cli.json("summary", "--home", d) == s
    assert "GMV" in cli("summary", "--home", d).stdout


def test_demo_refuses_a_folder_it_did_not_make(tmp_path, cli):
    d = tmp_path / "mine"
    d.mkdir()
    (d / "notes.txt").write_text("keep me", encoding="utf-8")
    r = cli("demo", "--dir", d, "--consumers", "200", ok=False)
    assert r.exit_code == 1 and "not empty" in r.stderr
    assert (d / "notes.txt").read_text(encoding="utf-8") == "keep me"
