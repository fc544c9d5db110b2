"""WeChat-family error codes (WeCom, official account, mini-program) mapped to retry or fail.

Transient (retried with backoff): -1 system busy, 45033 concurrent calls over the limit, and
token codes left after one refresh. Rate limited (the channel pauses): 45009 API calls over
the daily/minute limit, 45011 API minute quota. Everything else is permanent: the request
itself is wrong (40003 bad userid, 40096/84061 not an external contact, 41051/40097 welcome
code used or expired, 43004 not subscribed, 43101 user refused, 47003 bad template data,
40001/40013/40125 bad credentials…).
"""

from __future__ import annotations

from typing import Any

from siyu.channels.base import PermanentError, RateLimited, TransientError

__all__ = ["TOKEN_CODES", "TRANSIENT_CODES", "RATE_CODES", "raise_for_errcode"]

TOKEN_CODES = frozenset({42001, 40014, 41001})
TRANSIENT_CODES = frozenset({-1, 45033}) | TOKEN_CODES
RATE_CODES = frozenset({45009, 45011})


def raise_for_errcode(got: Any, what: str) -> None:
    if not isinstance(got, dict):
        raise TransientError(f"{what}: unexpected answer")
    code = got.get("errcode", 0)
    try:
        code = int(code or 0)
    except (TypeError, ValueError):
        raise TransientError(f"{what}: unexpected errcode") from None
    if code == 0:
        return
    msg = f"{what}: errcode {code} {str(got.get('errmsg', ''))[:120]}".rstrip()
    if code in RATE_CODES:
        raise RateLimited(msg, 60.0)
    if code in TRANSIENT_CODES:
        raise TransientError(msg)
    raise PermanentError(msg)
