"""The 360° view (siyu.consumers.profile) on a hand-built consumer."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from siyu.consumers import profile
from siyu.errors import UsageError
from siyu.identity import NotResolved, UnknownKey, resolve

from .helpers import add_keys, add_links, cid

PHONE = "phone:13812341234"
NOW = datetime(2024, 6, 1, tzinfo=UTC)


@pytest.fixture
def person(ws):
    """One person with a phone, a unionid and an openid; another person beside."""
    add_keys(ws, {PHONE: 1, "unionid:u1": 2, "openid:o1": 3, "unionid:other": 4})
    add_links(ws, [(PHONE, "unionid:u1", 5), ("unionid:u1", "openid:o1", 6)])
    con = ws.warehouse.raw
    con.execute("""INSERT INTO consumers (consumer_key, name, gender, city, birthday,
                       registered_at, _load_id, _line) VALUES
        ('phone:13812341234', '李雷', 'male', '上海', DATE '1990-05-01',
         TIMESTAMPTZ '2023-01-01 02:00:00+00', 'L1', 5),
        ('unionid:u1', '李雷雷', 'male', '杭州', NULL, NULL, 'L2', 2),
        ('unionid:u1', '李老师', 'male', '苏州', NULL, NULL, 'L2', 3),
        ('unionid:other', '韩梅梅', 'female', '北京', NULL, NULL, 'L9', 9)""")
    con.execute("""INSERT INTO orders (order_id, consumer_key, paid_at, amount, status) VALUES
        ('o1', 'phone:13812341234', TIMESTAMPTZ '2024-01-10 02:00:00+00', 100.50, 'paid'),
        ('o2', 'unionid:u1', TIMESTAMPTZ '2024-02-10 02:00:00+00', 60, 'refunded'),
        ('o3', 'openid:o1', TIMESTAMPTZ '2024-03-10 17:00:00+00', 0, 'paid'),
        ('o4', 'unionid:other', TIMESTAMPTZ '2024-04-10 02:00:00+00', 999, 'paid')""")
    con.execute("""INSERT INTO relationships (event_id, consumer_key, field, action,
                       occurred_at, field_ref, source) VALUES
        ('r1', 'unionid:u1', 'group_chat', 'start', TIMESTAMPTZ '2024-01-01 00:00:00+00', 'g1', 'qr_code'),
        ('r2', 'unionid:u1', 'group_chat', 'end', TIMESTAMPTZ '2024-02-01 00:00:00+00', 'g1', NULL),
        ('r3', 'openid:o1', 'group_chat', 'start', TIMESTAMPTZ '2024-03-01 00:00:00+00', 'g1', 'referral'),
        ('r4', 'phone:13812341234', 'membership', 'start', TIMESTAMPTZ '2024-01-05 00:00:00+00', NULL, 'store'),
        ('r5', 'phone:13812341234', 'guide', 'start', TIMESTAMPTZ '2024-01-06 00:00:00+00', 'gd1', 'store'),
        ('r6', 'phone:13812341234', 'guide', 'end', TIMESTAMPTZ '2024-07-01 00:00:00+00', 'gd1', NULL)""")
    con.execute("""INSERT INTO interactions (event_id, consumer_key, field, type, occurred_at)
        VALUES ('i1', 'unionid:u1', 'group_chat', 'message', TIMESTAMPTZ '2024-04-01 00:00:00+00'),
               ('i2', 'openid:o1', 'group_chat', 'message', TIMESTAMPTZ '2024-04-02 00:00:00+00'),
               ('i3', 'phone:13812341234', 'mini_program', 'visit',
                TIMESTAMPTZ '2024-04-03 00:00:00+00'),
               ('i4', 'unionid:other', 'mini_program', 'visit',
                TIMESTAMPTZ '2024-05-30 00:00:00+00')""")
    con.execute("""INSERT INTO shares (share_id, consumer_key, occurred_at) VALUES
        ('s1', 'openid:o1', TIMESTAMPTZ '2024-04-20 00:00:00+00')""")
    resolve(ws)
    return ws


def test_profile_joins_every_key(person):
    p = profile(person, "Phone:+86 138-1234-1234", now=NOW)
    assert p["consumer_id"] == cid(PHONE)
    assert p["resolved_via"] == "key"
    assert [k["key"] for k in p["keys"]] == ["phone:138****1234", "unionid:u1", "openid:o1"]
    assert p["keys"][0]["first_seen"] == "2024-01-02T08:00:00+08:00"
    assert p["attributes"]["name"] == "李老师" and p["attributes"]["city"] == "苏州"
    assert p["attributes"]["from_key"] == "unionid:u1"
    assert p["orders"] == {"count": 3, "paid": 2, "gmv": 100.5,
                           "first_order_at": "2024-01-10T10:00:00+08:00",
                           "last_order_at": "2024-03-11T01:00:00+08:00"}
    assert p["interactions"] == {"message": 2, "visit": 1}
    assert p["last_activity_at"] == "2024-04-20T08:00:00+08:00"
    rel = {(r["field"], r["field_ref"]): r for r in p["relationships"]}
    assert rel[("group_chat", "g1")] == {
        "field": "group_chat", "field_ref": "g1", "status": "active",
        "started_at": "2024-03-01T08:00:00+08:00", "ended_at": None, "source": "referral"}
    assert rel[("membership", None)]["status"] == "active"
    # the end of the guide relationship lies after `now`
    assert rel[("guide", "gd1")]["status"] == "active"
    assert profile(person, PHONE, now=datetime(2024, 8, 1, tzinfo=UTC))["relationships"][1][
        "status"] == "ended"


def test_profile_masks_unless_asked(person):
    assert "13812341234" not in str(profile(person, "unionid:u1", now=NOW))
    p = profile(person, "unionid:u1", mask=False, now=NOW)
    assert p["keys"][0]["key"] == PHONE


def test_profile_by_consumer_id_and_by_old_id(person):
    assert profile(person, cid(PHONE), now=NOW)["resolved_via"] == "consumer_id"
    # an even older key joins: the consumer is renamed, the old id still works
    add_keys(person, {"member:M1": 0}, load_id="L3")
    add_links(person, [("member:M1", "openid:o1", 7)])
    resolve(person)
    p = profile(person, cid(PHONE), now=NOW)
    assert p["consumer_id"] == cid("member:M1") and p["resolved_via"] == "history"
    assert p["previous_ids"] == [cid(PHONE)]


def test_profile_errors(ws):
    with pytest.raises(NotResolved, match="identity resolve"):
        profile(ws, PHONE)
    add_keys(ws, {"unionid:a": 1})
    resolve(ws)
    with pytest.raises(UnknownKey):
        profile(ws, "unionid:nobody")
    with pytest.raises(UnknownKey):
        profile(ws, "c0000000000000000")
    with pytest.raises(UsageError):
        profile(ws, "phone:12")
    add_keys(ws, {"unionid:late": 2}, load_id="L2")
    with pytest.raises(NotResolved, match="after the last resolve"):
        profile(ws, "unionid:late")


def test_consumer_without_events(ws):
    add_keys(ws, ["anon:x"])
    resolve(ws)
    p = profile(ws, "anon:x")
    assert p["attributes"] is None and p["relationships"] == [] and p["interactions"] == {}
    assert p["orders"] == {"count": 0, "paid": 0, "gmv": 0.0, "first_order_at": None,
                           "last_order_at": None}
    assert p["last_activity_at"] is None
