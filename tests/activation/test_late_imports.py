"""On the real clock (``siyu worker``) event triggers follow the imports: a row imported after
the journey's import cursor is read once whatever its event time — within the look-back it
enters at its time, older at the pass that read it; rows older than the journey never enter.
Under the simulated clock (``siyu run``) events still enter at their event time."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from siyu.activation.clock import now_utc, utc
from siyu.activation.runner import worker
from siyu.activation.store import deploy
from siyu.ops.tables import journey_enrolments as E
from siyu.ops.tables import journeys
from siyu.workspace import Workspace
from tests.activation.journey_support import SH
from tests.models.builder import Brand

HELLO = """\
name: hello
title: 加好友问候
trigger: {type: event, event: relationship, where: {field: guide}}
steps:
  - send: {channel: file, purpose: service, template: "你好"}
"""


def ago(delta: timedelta) -> str:
    """Brand-local text of a real instant ``delta`` ago, as an export writes it."""
    return (now_utc() - delta).astimezone(SH).strftime("%Y-%m-%d %H:%M")


def enrolled(ws) -> dict[str, tuple]:
    with ws.ops.engine.connect() as c:
        rows = c.execute(select(E.c.consumer_id, E.c.enrolled_at, E.c.trigger_ref)).all()
    keys = dict(ws.warehouse.raw.execute("SELECT consumer_id, key FROM identity_map").fetchall())
    return {keys[cid].split(":")[1]: (utc(at), ref) for cid, at, ref in rows}


def test_a_row_imported_late_enrols_exactly_once(tmp_path):
    ws = Workspace.init(tmp_path / "ws")
    deploy(ws.ops, HELLO, actor="t")
    # the journey has run for ten days; the worker read triggers up to a minute ago
    with ws.ops.engine.begin() as c:
        c.execute(journeys.update().values(created_at=now_utc() - timedelta(days=10),
                                           trigger_cursor=now_utc() - timedelta(minutes=1)))
    recent, late, before = ago(timedelta(hours=1)), ago(timedelta(days=5)), ago(timedelta(days=12))
    b = Brand()
    b.rel("wecom:u1", "guide", "start", late, "g1")  # 5 days old: older than the look-back
    b.rel("wecom:u2", "guide", "start", recent, "g1")  # an hour old: within it
    b.rel("wecom:u3", "guide", "start", before, "g1")  # before the journey existed
    b.load(ws, tmp_path)
    t0 = now_utc()
    assert worker(ws, once=True)["entered"] == 2
    t1 = now_utc()
    got = enrolled(ws)
    assert sorted(got) == ["u1", "u2"]
    assert t0 <= got["u1"][0] <= t1  # entered when the worker read it
    assert got["u2"][0].astimezone(SH).strftime("%Y-%m-%d %H:%M") == recent
    # read once: the next passes find nothing new
    assert worker(ws, once=True)["entered"] == 0
    # another late import: only its row enters
    b2 = Brand()
    b2.add("relationships", consumer_key="wecom:u4", field="guide", action="start",
           occurred_at=ago(timedelta(days=3)), field_ref="g2", event_id="re-late-4")
    (tmp_path / "more").mkdir()
    b2.load(ws, tmp_path / "more")
    assert worker(ws, once=True)["entered"] == 1
    assert worker(ws, once=True)["entered"] == 0
    got = enrolled(ws)
    assert sorted(got) == ["u1", "u2", "u4"]
    with ws.ops.engine.connect() as c:
        cursor = c.execute(select(journeys.c.trigger_load)).scalar()
    assert cursor == ws.warehouse.raw.execute(
        "SELECT max(_load_id) FROM relationships").fetchone()[0]
    ws.close()


def test_the_simulated_clock_enters_events_at_their_time(cli, tmp_path):
    ws = Workspace.init(tmp_path / "ws")
    b = Brand()
    b.rel("wecom:u1", "guide", "start", "2025-03-03 11:00", "g1")
    b.rel("wecom:u2", "guide", "start", "2025-03-05 09:15", "g1")
    b.rel("wecom:u3", "guide", "start", "2025-03-01 09:15", "g1")  # before the run starts
    b.load(ws, tmp_path)
    deploy(ws.ops, HELLO, actor="t")
    ws.close()
    home = tmp_path / "ws"
    assert cli.json("run", "--from", "2025-03-02", "--until", "2025-03-08", "--no-deliver",
                    "--home", home)["entered"] == 2
    ws = Workspace.open(home)
    got = {k: v[0].astimezone(SH).strftime("%Y-%m-%d %H:%M") for k, v in enrolled(ws).items()}
    with ws.ops.engine.connect() as c:
        assert c.execute(select(journeys.c.trigger_load)).scalar() is None
    ws.close()
    assert got == {"u1": "2025-03-03 11:00", "u2": "2025-03-05 09:15"}


def test_an_import_waits_for_oneid_before_the_cursor_passes_it(tmp_path):
    """A row whose key OneID has not mapped yet (a new customer, imported after the last
    `siyu identity resolve`) is not skipped: the import cursor stops before its import until
    OneID has run, then the row enters at its own time — once."""
    import csv

    from siyu.identity import resolve
    from siyu.ingest import import_files

    ws = Workspace.init(tmp_path / "ws")
    deploy(ws.ops, HELLO, actor="t")
    with ws.ops.engine.begin() as c:
        c.execute(journeys.update().values(created_at=now_utc() - timedelta(days=10),
                                           trigger_cursor=now_utc() - timedelta(minutes=1)))
    b = Brand()
    b.rel("wecom:u1", "guide", "start", ago(timedelta(hours=2)), "g1")
    b.load(ws, tmp_path)  # imported and resolved
    assert worker(ws, once=True)["entered"] == 1
    first = ws.warehouse.raw.execute("SELECT max(_load_id) FROM relationships").fetchone()[0]

    def import_only(name: str, key: str, at: str) -> None:  # no OneID afterwards
        f = tmp_path / f"{name}.csv"
        with open(f, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["event_id", "consumer_key", "field", "action", "occurred_at",
                        "field_ref"])
            w.writerow([name, key, "guide", "start", at, "g1"])
        assert import_files(ws, "relationships", [f]).rejected == 0

    new_at = ago(timedelta(minutes=30))
    import_only("r-new", "wecom:u2", new_at)
    for _ in range(2):  # however many passes run before OneID: nothing lost, cursor held
        assert worker(ws, once=True)["entered"] == 0
        with ws.ops.engine.connect() as c:
            assert c.execute(select(journeys.c.trigger_load)).scalar() == first
    resolve(ws)
    assert worker(ws, once=True)["entered"] == 1
    assert worker(ws, once=True)["entered"] == 0
    got = enrolled(ws)
    assert sorted(got) == ["u1", "u2"]
    assert got["u2"][0].astimezone(SH).strftime("%Y-%m-%d %H:%M") == new_at
    last = ws.warehouse.raw.execute("SELECT max(_load_id) FROM relationships").fetchone()[0]
    with ws.ops.engine.connect() as c:
        assert c.execute(select(journeys.c.trigger_load)).scalar() == last
    # a key OneID has been through and left without a consumer id (here: taken out of the
    # map by hand) does not hold the cursor back for ever
    ws.warehouse.raw.execute("DELETE FROM identity_map WHERE key = 'wecom:u2'")
    import_only("r-u3", "wecom:u3", ago(timedelta(minutes=10)))
    resolve(ws)
    ws.warehouse.raw.execute("DELETE FROM identity_map WHERE key = 'wecom:u2'")
    assert worker(ws, once=True)["entered"] == 1  # u3
    with ws.ops.engine.connect() as c:
        assert c.execute(select(journeys.c.trigger_load)).scalar() == ws.warehouse.raw.execute(
            "SELECT max(_load_id) FROM relationships").fetchone()[0]
    ws.close()
