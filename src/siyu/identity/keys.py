"""Consumer keys (``type:value``, DOMAIN §2): normalising and masking.

The importer and every command that takes a key from a person use :func:`normalize_key`, so a
key typed as ``Phone:+86 138-1234-5678`` finds the stored ``phone:13812345678``. Output meant
for people shows keys through :func:`mask_key` (§12: phone numbers are shown masked).

>>> normalize_key("Phone:+86 138-1234-5678")
'phone:13812345678'
>>> mask_key("phone:13812345678")
'phone:138****5678'
>>> mask_key("email:alice@example.com")
'email:a***@example.com'
"""

from __future__ import annotations

import re

from siyu.i18n import tr
from siyu.schema import KEY_TYPES

__all__ = ["normalize_key", "mask_key", "key_type", "is_consumer_id", "MASKED_TYPES"]

MASKED_TYPES: tuple[str, ...] = ("phone", "email")
"""Key types whose values are personal data and are masked in output meant for people."""

_PHONE_NOISE = re.compile(r"[\s\-()（）]")
_MAINLAND_MOBILE = re.compile(r"1\d{10}")
_CONSUMER_ID = re.compile(r"c[0-9a-f]{16}")


def _normalize_phone(value: str) -> str:
    v = _PHONE_NOISE.sub("", value)
    if v.startswith("+86"):
        v = v[3:]
    elif v.startswith("0086"):
        v = v[4:]
    elif v.startswith("86") and len(v) == 13:
        v = v[2:]
    if v.startswith("+"):
        raise ValueError(tr("手机号 {v}：仅支持中国大陆手机号（+86）",
                            "phone {v}: only mainland mobile numbers (+86) are supported",
                            v=repr(value)))
    if not _MAINLAND_MOBILE.fullmatch(v):
        raise ValueError(tr("手机号 {v}：不是11位大陆手机号",
                            "phone {v}: not an 11-digit mainland mobile number", v=repr(value)))
    return v


def normalize_key(s: str) -> str:
    """The stored form of a consumer key: ``type:value`` with a lower-case known type and a
    trimmed value; phone values lose spaces, dashes, brackets and a leading
    ``+86``/``0086``/``86`` and must then be 11-digit mainland mobiles. Other values are kept
    as given (the importer's SQL in ``siyu.ingest.validate`` applies the same rule).

    Raises ``ValueError`` saying why when ``s`` is not a valid key.
    """
    if not isinstance(s, str):
        raise ValueError(tr("标识必须是文本", "a key must be text, got {t}",
                            t=type(s).__name__))
    type_, sep, value = s.strip().partition(":")
    if not sep:
        raise ValueError(tr("标识 {s} 不是 类型:值 的形式", "key {s} is not of the form type:value",
                            s=repr(s)))
    type_ = type_.strip().lower()
    value = value.strip()
    if type_ not in KEY_TYPES:
        raise ValueError(tr("未知的标识类型 {t}；可用：{known}",
                            "unknown key type {t}; known: {known}",
                            t=repr(type_), known=", ".join(KEY_TYPES)))
    if not value:
        raise ValueError(tr("标识 {s} 的值为空", "key {s} has an empty value", s=repr(s)))
    if type_ == "phone":
        value = _normalize_phone(value)
    return f"{type_}:{value}"


def key_type(key: str) -> str:
    """The type part of a stored key (``phone`` for ``phone:138…``)."""
    return key.partition(":")[0]


def _mask_middle(v: str) -> str:
    if len(v) >= 8:
        return v[:3] + "****" + v[-4:]
    return "*" * len(v)


def mask_key(key: str | None) -> str | None:
    """The key as shown to people: phone ``phone:138****1234``, email ``email:a***@x.com``,
    other types unchanged. ``None`` stays ``None``."""
    if key is None:
        return None
    type_, sep, value = key.partition(":")
    if not sep:
        return key
    if type_ == "phone":
        return f"phone:{_mask_middle(value)}"
    if type_ == "email":
        local, at, domain = value.partition("@")
        if not at:
            return f"email:{_mask_middle(value)}"
        return f"email:{local[:1]}***@{domain}"
    return key


def is_consumer_id(s: str) -> bool:
    """Whether ``s`` looks like a consumer id (``c`` + 16 hex digits)."""
    return bool(_CONSUMER_ID.fullmatch(s.strip()))
