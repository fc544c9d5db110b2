"""Key normalisation and masking (DOMAIN §2, §12)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from siyu.identity.keys import is_consumer_id, key_type, mask_key, normalize_key


@pytest.mark.parametrize("raw, expected", [
    ("phone:13812345678", "phone:13812345678"),
    ("Phone:+86 138-1234-5678", "phone:13812345678"),
    ("PHONE: 8613812345678 ", "phone:13812345678"),
    ("phone:0086 138 1234 5678", "phone:13812345678"),
    ("phone:(138)1234-5678", "phone:13812345678"),
    ("phone:（138）12345678", "phone:13812345678"),
    ("  UnionID:oAbC123  ", "unionid:oAbC123"),
    ("member:M-0001", "member:M-0001"),
    ("email:Alice@Example.com", "email:Alice@Example.com"),
    ("wecom:wm:xyz", "wecom:wm:xyz"),
])
def test_normalize_key(raw, expected):
    assert normalize_key(raw) == expected


@pytest.mark.parametrize("raw, reason", [
    ("13812345678", "type:value"),
    ("phone:", "empty"),
    ("qq:12345", "unknown key type"),
    ("phone:1381234567", "11-digit"),
    ("phone:23812345678", "11-digit"),
    ("phone:+1 415 555 0100", "mainland"),
    ("phone:138123456789", "11-digit"),
])
def test_normalize_key_rejects_with_reason(raw, reason):
    with pytest.raises(ValueError, match=reason):
        normalize_key(raw)


def test_normalize_rejects_non_text():
    with pytest.raises(ValueError):
        normalize_key(None)  # type: ignore[arg-type]


@given(st.integers(min_value=0, max_value=10**10 - 1),
       st.sampled_from(["", "+86", "86", "0086", "+86 "]),
       st.sampled_from(["", " ", "-"]))
def test_phone_spellings_normalise_to_one_key(n, prefix, sep):
    digits = f"1{n:010d}"
    spelled = prefix + sep.join([digits[:3], digits[3:7], digits[7:]])
    key = normalize_key(f"phone:{spelled}")
    assert key == f"phone:{digits}"
    assert normalize_key(key) == key


@pytest.mark.parametrize("key, shown", [
    ("phone:13812341234", "phone:138****1234"),
    ("email:alice@x.com", "email:a***@x.com"),
    ("email:noatsign", "email:noa****sign"),
    ("unionid:u123", "unionid:u123"),
    ("member:M1", "member:M1"),
    (None, None),
])
def test_mask_key(key, shown):
    assert mask_key(key) == shown


def test_mask_never_shows_the_middle_digits():
    assert "4123" not in mask_key("phone:13841231234")


def test_key_type_and_consumer_id_shape():
    assert key_type("phone:138") == "phone"
    assert is_consumer_id("c0123456789abcdef")
    assert not is_consumer_id("c0123")
    assert not is_consumer_id("phone:13812345678")
