"""Tencent Cloud SMS delivery reports pulled with PullSmsSendStatus (signed TC3-HMAC-SHA256)
from the fake's scripted report queue, and `siyu outbox receipts`."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from siyu.channels.dispatcher import drain
from siyu.channels.fakes import Fault
from siyu.channels.outbox import enqueue, receipts
from siyu.channels.receipts import poll_receipts, poll_sms, record_provider_receipts
from siyu.ops.tables import channel_receipts
from tests.channels.conftest import configure, fake_settings, write_settings
from tests.channels.helpers import T0, rows

RECEIVED = 1772330400  # 2026-03-01 02:00:00 UTC


def send(ws, sms, n: int) -> list:
    configure(ws, **fake_settings(sms=sms), channel_concurrency={"sms": 1})
    enqueue(ws, [{"idempotency_key": f"s{i}", "channel": "sms", "recipient": f"1380013{i:04d}",
                  "payload": {"template_id": "1234", "params": ["x"]}} for i in range(n)],
            now=T0)
    assert drain(ws, now=T0).sent == n
    return rows(ws)


def statuses(ws, r) -> list[str]:
    return [x["status"] for x in receipts(ws, r.id)]


def test_reports_become_delivered_and_failed_receipts(ws, sms):
    r = send(ws, sms, 3)
    sms.report(r[0].provider_message_id, "SUCCESS", receive_time=RECEIVED)
    sms.report(r[1].provider_message_id, "FAIL", description="MK:0005")
    assert poll_sms(ws) == {"delivered": 1, "failed": 1}
    assert poll_sms(ws) == {}  # the queue is empty; nothing new
    sms.report(r[2].provider_message_id, "SUCCESS")
    sms.report(r[0].provider_message_id, "SUCCESS")  # a repeated report: recorded once
    assert poll_sms(ws) == {"delivered": 1}
    assert [statuses(ws, x) for x in r] == [["sent", "delivered"], ["sent", "failed"],
                                            ["sent", "delivered"]]
    d = receipts(ws, r[0].id)[1]
    at = d["at"] if d["at"].tzinfo else d["at"].replace(tzinfo=UTC)
    assert (at, d["provider_message_id"], d["detail"]) == (
        datetime(2026, 3, 1, 2, 0, tzinfo=UTC), r[0].provider_message_id,
        {"sms_status": "DELIVRD"})
    assert receipts(ws, r[1].id)[1]["detail"] == {"sms_status": "MK:0005"}
    pulls = sms.calls("/")[3:]  # after the three SendSms calls
    assert [p.headers["x-tc-action"] for p in pulls] == ["PullSmsSendStatus"] * 3
    assert [p.json() for p in pulls][0] == {"Limit": 100, "SmsSdkAppId": "1400000001"}
    assert sms.bad_signatures == 0 and sms.pulls == [2, 0, 2]


def test_session_context_matches_when_the_serial_does_not(ws, sms):
    r = send(ws, sms, 2)
    sms.report("9999:not-a-serial-we-know", "FAIL", context="s1")
    sms.report("9999:nobody", "SUCCESS", context="")
    sms.report("9999:nobody-either", "SUCCESS", context="no-such-key")
    assert poll_sms(ws) == {"failed": 1, "unmatched": 2}
    assert [statuses(ws, x) for x in r] == [["sent"], ["sent", "failed"]]
    # the receipt keeps the id the provider reported
    assert receipts(ws, r[1].id)[1]["provider_message_id"] == "9999:not-a-serial-we-know"


def test_a_full_queue_is_pulled_in_pages_of_100(ws, sms):
    r = send(ws, sms, 130)
    for x in r:
        sms.report(x.provider_message_id, "SUCCESS" if x.id % 3 else "FAIL")
    fails = sum(1 for x in r if x.id % 3 == 0)
    assert poll_sms(ws) == {"delivered": 130 - fails, "failed": fails}
    assert sms.pulls == [100, 30]


def test_scripted_errors_leave_reports_for_the_next_poll(ws, sms, caplog):
    r = send(ws, sms, 2)
    sms.report(r[0].provider_message_id, "SUCCESS")
    sms.add_faults("/", Fault.code({"Response": {"Error": {"Code": "InternalError.Timeout",
                                                           "Message": "x"}, "RequestId": "q"}}),
                   Fault.timeout(0.8))
    with caplog.at_level(logging.WARNING, logger="siyu.channels"):
        assert poll_sms(ws) == {}
        assert poll_sms(ws) == {}
    assert caplog.text.count("sms status pull failed") == 2
    assert poll_sms(ws) == {"delivered": 1}
    assert [statuses(ws, x) for x in r] == [["sent", "delivered"], ["sent"]]


def test_wrong_key_is_refused_by_the_signature_check(ws, sms):
    r = send(ws, sms, 1)
    sms.report(r[0].provider_message_id, "SUCCESS")
    configure(ws, sms_secret_key="wrong")
    assert poll_sms(ws) == {}
    assert sms.bad_signatures == 1 and len(sms.reports) == 1
    assert statuses(ws, r[0]) == ["sent"]


def test_poll_receipts_runs_only_configured_pollers(ws, sms):
    assert poll_receipts(ws) == {}  # nothing configured: no call at all
    assert sms.requests == []
    r = send(ws, sms, 1)
    sms.report(r[0].provider_message_id, "FAIL")
    assert poll_receipts(ws) == {"sms": {"failed": 1}}


def test_outbox_receipts_command_shows_the_new_ones(ws, cli, sms, monkeypatch):
    r = send(ws, sms, 2)
    write_settings(ws, **fake_settings(sms=sms))
    sms.report(r[1].provider_message_id, "SUCCESS", receive_time=RECEIVED)
    got = cli.json("outbox", "receipts", "--home", ws.home)
    assert (got["receipts"], got["by_channel"]) == ({"delivered": 1}, {"sms": {"delivered": 1}})
    assert got["new"] == [{"outbox_id": r[1].id, "channel": "sms", "status": "delivered",
                           "at": "2026-03-01T02:00:00+00:00",
                           "detail": {"sms_status": "DELIVRD"}}]
    got = cli.json("outbox", "receipts", "--home", ws.home)
    assert (got["receipts"], got["new"]) == ({}, [])
    sms.report(r[0].provider_message_id, "FAIL", description="MK:0005")
    monkeypatch.setenv("SIYU_LANG", "zh")
    text = cli("outbox", "receipts", "--home", ws.home).output
    assert "新回执：failed 1" in text and "MK:0005" in text and "13800" not in text
    sms.report(r[0].provider_message_id, "SUCCESS")
    monkeypatch.setenv("SIYU_LANG", "en")
    assert "new receipts: delivered 1" in cli("outbox", "receipts", "--home", ws.home).output


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(reports=st.lists(st.tuples(st.integers(0, 4), st.sampled_from(["delivered", "failed"]),
                                  st.booleans()), max_size=25))
def test_receipts_are_the_set_of_reported_statuses(ws, reports):
    """Whatever the order and repetition of reports (by provider id or by key, some for
    messages that do not exist): each message ends with exactly one receipt per status
    reported for it, and the counts returned add up to the new receipts."""
    with ws.ops.engine.begin() as c:
        c.execute(delete(channel_receipts))
    ids = {r.idempotency_key: r.id for r in rows(ws)}
    if not ids:
        ids = {k: i for k, i in zip([f"h{i}" for i in range(4)], enqueue(ws, [
            {"idempotency_key": f"h{i}", "channel": "sms", "recipient": "13800138000",
             "payload": {}} for i in range(4)], now=T0), strict=True)}
        from sqlalchemy import update

        from siyu.ops.tables import outbox

        with ws.ops.engine.begin() as c:
            for k, i in ids.items():
                c.execute(update(outbox).where(outbox.c.id == i).values(
                    status="sent", provider_message_id=f"pid-{k}"))
    total: dict[str, int] = {}
    want: dict[int, set[str]] = {}
    for n, status, by_key in reports:
        k = f"h{n}"  # h4 does not exist
        rep = {"status": status, "idempotency_key": k} if by_key else {
            "status": status, "provider_message_id": f"pid-{k}"}
        for s, v in record_provider_receipts(ws, "sms", [rep]).items():
            total[s] = total.get(s, 0) + v
        if k in ids:
            want.setdefault(ids[k], set()).add(status)
    got = {i: [x["status"] for x in receipts(ws, i)] for i in ids.values()}
    assert {i: set(v) for i, v in got.items() if v} == want
    assert all(len(v) == len(set(v)) for v in got.values())
    assert total.get("unmatched", 0) == sum(1 for n, _, _ in reports if n == 4)
    assert total.get("delivered", 0) + total.get("failed", 0) == sum(len(v) for v in want.values())
