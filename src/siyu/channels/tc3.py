"""Tencent Cloud API 3.0 request signing, TC3-HMAC-SHA256 (签名方法 v3).

    CanonicalRequest = POST \\n / \\n (empty query) \\n
                       content-type:application/json; charset=utf-8\\nhost:<host>\\n
                       x-tc-action:<action lower-case>\\n \\n
                       content-type;host;x-tc-action \\n hex(sha256(body))
    StringToSign     = TC3-HMAC-SHA256 \\n <timestamp> \\n <date>/<service>/tc3_request \\n
                       hex(sha256(CanonicalRequest))
    key              = HMAC("TC3"+SecretKey, date) → HMAC(·, service) → HMAC(·, "tc3_request")
    Authorization    = TC3-HMAC-SHA256 Credential=<SecretId>/<scope>,
                       SignedHeaders=content-type;host;x-tc-action, Signature=<hex HMAC(key,
                       StringToSign)>

``date`` is the UTC date of ``timestamp``.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

__all__ = ["CONTENT_TYPE", "canonical_request", "string_to_sign", "authorization",
           "signed_headers"]

CONTENT_TYPE = "application/json; charset=utf-8"
SIGNED = "content-type;host;x-tc-action"


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def canonical_request(host: str, action: str, body: bytes, signed: str = SIGNED) -> str:
    """``signed``: the signed header names, sorted and joined by ``;`` — siyu signs
    ``content-type;host;x-tc-action``; the public example signs ``content-type;host``."""
    values = {"content-type": CONTENT_TYPE, "host": host, "x-tc-action": action.lower()}
    names = signed.split(";")
    if names != sorted(names) or not {"content-type", "host"} <= set(names) <= set(values):
        raise ValueError(f"unsupported signed headers {signed!r}")
    headers = "".join(f"{n}:{values[n]}\n" for n in names)
    return "\n".join(["POST", "/", "", headers, signed, hashlib.sha256(body).hexdigest()])


def string_to_sign(timestamp: int, service: str, creq: str) -> str:
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    return "\n".join(["TC3-HMAC-SHA256", str(timestamp), f"{date}/{service}/tc3_request",
                      hashlib.sha256(creq.encode()).hexdigest()])


def authorization(secret_id: str, secret_key: str, *, service: str, host: str, action: str,
                  body: bytes, timestamp: int, signed: str = SIGNED) -> str:
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    scope = f"{date}/{service}/tc3_request"
    to_sign = string_to_sign(timestamp, service, canonical_request(host, action, body, signed))
    key = _hmac(_hmac(_hmac(("TC3" + secret_key).encode(), date), service), "tc3_request")
    sig = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return (f"TC3-HMAC-SHA256 Credential={secret_id}/{scope}, SignedHeaders={signed}, "
            f"Signature={sig}")


def signed_headers(secret_id: str, secret_key: str, *, service: str, host: str, action: str,
                   version: str, region: str, body: bytes, timestamp: int) -> dict[str, str]:
    """Every header of a signed API 3.0 call."""
    return {"Authorization": authorization(secret_id, secret_key, service=service, host=host,
                                           action=action, body=body, timestamp=timestamp),
            "Content-Type": CONTENT_TYPE, "Host": host, "X-TC-Action": action,
            "X-TC-Version": version, "X-TC-Timestamp": str(timestamp), "X-TC-Region": region}
