"""WeCom channels against the fake WeCom server: tokens, mass-send tasks, error codes, the
in-doubt lookup, welcome messages, tags, groups and moments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from siyu.channels.dispatcher import claim, drain
from siyu.channels.fakes import FakeWeCom, Fault
from siyu.channels.outbox import enqueue
from siyu.channels.wecom.events import store_event
from tests.channels.conftest import configure, fake_settings
from tests.channels.helpers import T0, attempts, put, rows, statuses

ADD = "/cgi-bin/externalcontact/add_msg_template"


def setup(ws, wecom, **kw):
    configure(ws, **{**fake_settings(wecom=wecom), **kw})


def test_one_task_per_guide_and_content_with_the_recipients(ws, wecom):
    setup(ws, wecom)
    put(ws, "wecom", 3)  # same guide, same text
    put(ws, "wecom", 1, prefix="x", guide_id="guide02")
    got = drain(ws, now=T0)
    assert (got.sent, got.dead) == (4, 0)
    assert sorted((t["creator"], tuple(t["targets"])) for t in wecom.tasks) == [
        ("guide01", ("wmcustomer0", "wmcustomer1", "wmcustomer2")), ("guide02", ("wmcustomer0",))]
    assert wecom.tokens.issued == 1  # fetched once, then cached
    body = wecom.calls(ADD)[0].json()
    assert body["chat_type"] == "single" and body["text"] == {
        "content": "您的专属福利即将过期，是否查看？"}
    assert {r.provider_message_id for r in rows(ws)} == {"msg000001", "msg000002"}


def test_expired_token_is_refreshed_and_the_call_repeated(ws, wecom):
    setup(ws, wecom)
    put(ws, "wecom", 1)
    drain(ws, now=T0)
    wecom.tokens.expire_all()  # 42001 for the cached token
    put(ws, "wecom", 1, prefix="y")
    got = drain(ws, now=T0)
    assert got.sent == 1 and wecom.tokens.issued == 2
    codes = [c.query["access_token"] for c in wecom.calls(ADD)]
    assert codes == ["wecom-tok-1", "wecom-tok-1", "wecom-tok-2"]


def test_token_cache_is_shared_through_the_ops_store(ws, wecom):
    setup(ws, wecom)
    put(ws, "wecom", 1)
    drain(ws, now=T0)
    put(ws, "wecom", 1, prefix="z")
    drain(ws, now=T0)  # a new drain (new channel objects) reuses the stored token
    assert wecom.tokens.issued == 1


def test_error_codes_map_to_retry_pause_or_dead(ws, wecom):
    setup(ws, wecom, channel_concurrency={"wecom": 1})
    wecom.add_faults(ADD, Fault.code({"errcode": -1, "errmsg": "system busy"}))
    put(ws, "wecom", 1, prefix="a", guide_id="g1")
    assert drain(ws, now=T0).retried == 1
    assert "errcode -1" in rows(ws)[0].last_error
    wecom.add_faults(ADD, Fault.code({"errcode": 45009, "errmsg": "api freq out of limit"}))
    got = drain(ws, now=T0 + timedelta(hours=1))
    assert got.retried == 1
    assert drain(ws, now=T0 + timedelta(hours=1, seconds=30)).claimed == 0  # paused 60 s
    wecom.add_faults(ADD, Fault.code({"errcode": 40003, "errmsg": "invalid userid"}))
    got = drain(ws, now=T0 + timedelta(hours=3))
    assert got.dead == 1
    assert rows(ws)[0].last_error == "wecom add_msg_template: errcode 40003 invalid userid"


def test_fail_list_contacts_are_dead_the_others_sent(ws, wecom):
    setup(ws, wecom)
    wecom.not_friends.add("wmcustomer1")
    put(ws, "wecom", 3)
    drain(ws, now=T0)
    assert [r.status for r in rows(ws)] == ["sent", "dead", "sent"]
    assert "fail_list" in rows(ws)[1].last_error


def test_lost_answer_is_resolved_by_lookup_not_sent_twice(ws, wecom):
    """The task was created but the answer timed out; the retry finds it at WeCom."""
    setup(ws, wecom)
    wecom.add_faults(ADD, Fault.lost_answer(0.8))
    put(ws, "wecom", 2)
    got = drain(ws, now=T0)
    assert got.retried == 2 and len(wecom.tasks) == 1
    assert [a.outcome for a in attempts(ws)] == ["unknown", "unknown"]
    got = drain(ws, now=T0 + timedelta(hours=1))
    assert (got.in_doubt, got.sent) == (2, 2)
    assert len(wecom.tasks) == 1  # found at WeCom, not created again
    assert {r.provider_message_id for r in rows(ws)} == {"msg000001"}
    # a dispatcher killed after sending: the same lookup
    put(ws, "wecom", 1, prefix="d", recipient="wmdoubt")
    wecom.add_faults(ADD, Fault.lost_answer(0.8))
    claim(ws, T0, 10, worker="w-killed")  # claimed by a worker that died
    t = T0 + timedelta(seconds=ws.settings.dispatch_lease_seconds + 1)
    # the worker had sent: create its task at the fake as the dead worker would have
    wecom._add_msg_template({"chat_type": "single", "sender": "guide01",
                             "text": {"content": "您的专属福利即将过期，是否查看？"},
                             "external_userid": ["wmdoubt"]})
    n_tasks = len(wecom.tasks)
    got = drain(ws, now=t)
    assert (got.in_doubt, got.sent) == (1, 1)
    assert len(wecom.tasks) == n_tasks  # found, not sent again
    assert rows(ws)[-1].provider_message_id == wecom.tasks[-1]["msgid"]


def test_in_doubt_without_a_task_at_wecom_is_sent(ws, wecom):
    setup(ws, wecom)
    put(ws, "wecom", 1)
    claim(ws, T0, 10, worker="w-killed")
    got = drain(ws, now=T0 + timedelta(seconds=301))
    assert (got.in_doubt, got.sent) == (1, 1) and len(wecom.tasks) == 1
    assert [a.outcome for a in attempts(ws)] == ["lost", "sent"]


def test_welcome_message_uses_the_code_of_the_add_contact_callback(ws, wecom):
    setup(ws, wecom)
    wecom.welcome_codes["WELCOME-1"] = False
    store_event(ws, {"Event": "change_external_contact", "ChangeType": "add_external_contact",
                     "UserID": "guide01", "ExternalUserID": "wmnew", "WelcomeCode": "WELCOME-1",
                     "CreateTime": str(int(datetime.now(UTC).timestamp()))})
    enqueue(ws, [{"idempotency_key": "w1", "channel": "wecom", "recipient": "wmnew",
                  "guide_id": "guide01", "payload": {"kind": "welcome", "text": "欢迎！"}}],
            now=T0)
    enqueue(ws, [{"idempotency_key": "w2", "channel": "wecom", "recipient": "wmother",
                  "guide_id": "guide01", "payload": {"kind": "welcome", "text": "欢迎！"}}],
            now=T0)
    got = drain(ws, now=T0)
    assert (got.sent, got.dead) == (1, 1)
    assert wecom.welcomes == [{"welcome_code": "WELCOME-1", "text": {"content": "欢迎！"}}]
    assert "no WelcomeCode" in rows(ws)[1].last_error


def test_mark_tag_maps_siyu_tags_to_wecom_tag_ids(ws, wecom):
    setup(ws, wecom, wecom_tag_map={"高价值": "etTAG1"})
    enqueue(ws, [{"idempotency_key": "t1", "channel": "wecom", "recipient": "wm1",
                  "guide_id": "guide01", "payload": {"kind": "mark_tag", "add": ["高价值"]}},
                 {"idempotency_key": "t2", "channel": "wecom", "recipient": "wm1",
                  "guide_id": "guide01", "payload": {"kind": "mark_tag", "add": ["未知"]}}],
            now=T0)
    drain(ws, now=T0)
    assert wecom.tags == [{"userid": "guide01", "external_userid": "wm1", "add_tag": ["etTAG1"],
                           "remove_tag": []}]
    assert statuses(ws) == {"sent": 1, "dead": 1}


def test_group_and_moments(ws, wecom):
    setup(ws, wecom)
    put(ws, "wecom_group", 2, recipient="wrchat1")
    enqueue(ws, [{"idempotency_key": "mo1", "channel": "wecom_moments", "guide_id": "guide01",
                  "payload": {"text": "新品上市", "tag_ids": ["etTAG1"]}}], now=T0)
    got = drain(ws, now=T0)
    assert got.sent == 3
    group = [t for t in wecom.tasks if t["chat_type"] == "group"]
    assert len(group) == 1 and group[0]["targets"] == ["wrchat1", "wrchat1"]
    assert wecom.moments[0]["visible_range"] == {
        "sender_list": {"user_list": ["guide01"]},
        "external_contact_list": {"tag_list": ["etTAG1"]}}
    assert rows(ws)[-1].provider_message_id == wecom.moments[0]["jobid"]


def test_bad_credentials_are_permanent(ws, wecom):
    setup(ws, wecom, wecom_secret="wrong")
    put(ws, "wecom", 1)
    assert drain(ws, now=T0).dead == 1
    assert "errcode 40001" in rows(ws)[0].last_error


def test_receipts_polled_from_the_send_result(ws, wecom):
    from siyu.channels.outbox import receipts
    from siyu.channels.receipts import poll_wecom, record_receipt

    setup(ws, wecom)
    wecom.not_friends.add("wmcustomer2")
    put(ws, "wecom", 3, now=datetime.now(UTC))
    drain(ws)
    msgid = wecom.tasks[0]["msgid"]
    wecom.sent_status[(msgid, "wmcustomer0")] = 1  # the guide sent it; wmcustomer1 not yet
    assert poll_wecom(ws) == {"delivered": 1}
    assert poll_wecom(ws) == {}  # nothing new
    wecom.sent_status[(msgid, "wmcustomer1")] = 3
    assert poll_wecom(ws) == {"failed": 1}
    ids = [r.id for r in rows(ws)]
    assert [x["status"] for x in receipts(ws, ids[0])] == ["sent", "delivered"]
    assert [x["status"] for x in receipts(ws, ids[1])] == ["sent", "failed"]
    assert record_receipt(ws, status="read", outbox_id=ids[0]) == 1
    assert rows(ws)[0].read_at is not None


FAULTS = {
    "busy": Fault.code({"errcode": -1, "errmsg": "system busy"}),
    "expired": Fault.code({"errcode": 42001, "errmsg": "access_token expired"}),
    "invalid_token": Fault.code({"errcode": 40014, "errmsg": "invalid access_token"}),
    "rate": Fault.code({"errcode": 45009, "errmsg": "api freq out of limit"}),
    "http500": Fault(500),
    "timeout": Fault.timeout(0.45),
    "lost": Fault.lost_answer(0.45),
    "bad_user": Fault.code({"errcode": 40003, "errmsg": "invalid userid"}),
}


@pytest.fixture(scope="module")
def shared_ws(tmp_path_factory):
    from siyu.workspace import Workspace

    w = Workspace.init(tmp_path_factory.mktemp("w") / "ws")
    yield w
    w.close()


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(script=st.lists(st.sampled_from(sorted(FAULTS)), max_size=8), n=st.integers(1, 5))
def test_scripted_wecom_faults_end_sent_exactly_once_or_dead(shared_ws, script, n):
    """Transient codes, expired tokens, rate limits, timeouts, lost answers and permanent codes
    in any order: a message is `sent` iff its recipient is in exactly one WeCom task, and a
    dead message's recipient is in none and its reason is recorded."""
    from siyu.ops.tables import (
        channel_attempts,
        channel_receipts,
        channel_state,
        channel_tokens,
        outbox,
    )

    ws = shared_ws
    with ws.ops.engine.begin() as c:
        for t in (outbox, channel_attempts, channel_receipts, channel_state, channel_tokens):
            c.execute(t.delete())
    with FakeWeCom("wwfakecorp", "corp-secret") as fake:
        configure(ws, **{**fake_settings(wecom=fake), "dispatch_max_attempts": 12,
                         "channel_timeout_seconds": 0.3})
        fake.add_faults(ADD, *[FAULTS[k] for k in script])
        # distinct content per message: one task per message, so faults hit messages apart
        enqueue(ws, [{"idempotency_key": f"k{i}", "channel": "wecom", "recipient": f"wm{i}",
                      "guide_id": "guide01", "payload": {"text": f"第 {i} 条"}}
                     for i in range(n)], now=T0)
        t = T0
        for _ in range(14):
            drain(ws, now=t)
            t += timedelta(hours=3)
        per = fake.deliveries()
        for r in rows(ws):
            assert r.status in ("sent", "dead"), r.status
            if r.status == "sent":
                assert per[r.recipient] == 1, (r.recipient, per)
            else:
                assert per[r.recipient] == 0 and "errcode 40003" in r.last_error


def test_moments_receipts_polled_from_the_task_result(ws, wecom):
    """``add_moment_task`` answers a jobid; ``get_moment_task_result`` (GET, jobid in the
    query) gives the moment_id once WeCom created the task, ``get_moment_task`` whether the
    guide published it."""
    from siyu.channels.outbox import receipts
    from siyu.channels.receipts import poll_receipts, poll_wecom_moments

    setup(ws, wecom)
    now = datetime.now(UTC)
    enqueue(ws, [{"idempotency_key": f"mo{g}", "channel": "wecom_moments", "guide_id": g,
                  "payload": {"text": "新品上市"}} for g in ("g1", "g2", "g3", "g4")], now=now)
    wecom.invalid_senders.add("g3")
    assert drain(ws).sent == 4
    task = {m["visible_range"]["sender_list"]["user_list"][0]: m for m in wecom.moments}
    row = {r.guide_id: r for r in rows(ws)}
    assert {g: r.provider_message_id for g, r in row.items()} == {
        g: m["jobid"] for g, m in task.items()}
    wecom.moments_creating.add(task["g1"]["jobid"])  # still being created
    wecom.moment_errors[task["g4"]["jobid"]] = {"errcode": 41058, "errmsg": "bad range"}
    wecom.published.add((task["g2"]["moment_id"], "g2"))
    assert poll_wecom_moments(ws) == {"delivered": 1, "failed": 2}
    call = wecom.calls("/cgi-bin/externalcontact/get_moment_task_result")[0]
    assert call.method == "GET" and call.query["jobid"] in {m["jobid"] for m in wecom.moments}
    assert call.query["access_token"].startswith("wecom-tok-")
    got = {g: receipts(ws, r.id) for g, r in row.items()}
    assert [x["status"] for x in got["g2"]] == ["sent", "delivered"]
    assert got["g2"][1]["detail"] == {"moment_id": task["g2"]["moment_id"]}
    assert got["g3"][1]["detail"] == {"wecom_status": "invalid_sender"}
    assert got["g4"][1]["detail"] == {"wecom_errcode": 41058}
    assert [x["status"] for x in got["g1"]] == ["sent"]
    assert poll_wecom_moments(ws) == {}  # g1: not created yet, asked again later
    wecom.moments_creating.clear()
    wecom.published.add((task["g1"]["moment_id"], "g1"))
    assert poll_receipts(ws) == {"wecom_moments": {"delivered": 1}}
    assert [x["status"] for x in receipts(ws, row["g1"].id)] == ["sent", "delivered"]


def test_without_a_guide_the_task_has_no_sender_and_is_found_and_polled(ws, wecom):
    """Journey sends carry no guide_id: the task goes without ``sender`` (WeCom gives each
    customer to the member who last chatted with them); the in-doubt lookup and the receipt
    poll ask ``get_groupmsg_task`` for those members."""
    from siyu.channels.outbox import receipts
    from siyu.channels.receipts import poll_wecom

    setup(ws, wecom)
    wecom.last_member.update({"wmcustomer0": "gA", "wmcustomer1": "gB"})
    now = datetime.now(UTC)
    enqueue(ws, [{"idempotency_key": f"j{i}", "channel": "wecom", "recipient": f"wmcustomer{i}",
                  "payload": {"text": "会员日到了，是否查看？"}} for i in range(2)], now=now)
    wecom.add_faults(ADD, Fault.lost_answer(0.8))  # created, but the answer is lost
    assert drain(ws).retried == 2
    body = wecom.calls(ADD)[0].json()
    assert "sender" not in body and body["external_userid"] == ["wmcustomer0", "wmcustomer1"]
    assert wecom.tasks[0]["members"] == {"gA": ["wmcustomer0"], "gB": ["wmcustomer1"]}
    got = drain(ws, now=now + timedelta(hours=1))
    assert (got.in_doubt, got.sent) == (2, 2) and len(wecom.tasks) == 1  # found, not resent
    msgid = wecom.tasks[0]["msgid"]
    wecom.sent_status[(msgid, "wmcustomer1")] = 1
    assert poll_wecom(ws, now=now) == {"delivered": 1}
    r = rows(ws)
    assert [x["status"] for x in receipts(ws, r[1].id)] == ["sent", "delivered"]
    put(ws, "wecom_group", 1, prefix="grp", recipient="wrchat", guide_id=None)
    assert drain(ws, now=now + timedelta(hours=1)).dead == 1
    assert "group owner" in rows(ws)[-1].last_error
