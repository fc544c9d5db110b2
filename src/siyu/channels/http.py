"""HTTP calls of the provider channels: every network failure becomes a channel error.

The WeChat-family APIs put credentials in the query string (``corpsecret``, ``secret``,
``access_token``) and httpx logs every request URL at INFO: :class:`RedactSecrets`, installed
on the ``httpx`` logger when this module is imported, masks those values, so a deployment
that logs at INFO never writes a secret or token.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import httpx

from siyu.channels.base import PermanentError, RateLimited, TransientError

__all__ = ["request_json", "retry_after", "redact", "RedactSecrets"]

_SECRET_PARAMS = re.compile(
    r"((?:corpsecret|secret|appsecret|access_token|suite_secret|provider_secret)=)[^&\s\"']+",
    re.IGNORECASE)


def redact(text: str) -> str:
    """``text`` with the values of credential query parameters replaced by ``***``."""
    return _SECRET_PARAMS.sub(r"\1***", text)


class RedactSecrets(logging.Filter):
    """Masks credential query parameters in the records of a logger (httpx's request log)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(str(a)) if isinstance(a, str | httpx.URL) else a
                                for a in record.args)
        return True


def _install() -> None:
    lg = logging.getLogger("httpx")  # httpcore's own debug records carry no URL
    if not any(isinstance(f, RedactSecrets) for f in lg.filters):
        lg.addFilter(RedactSecrets())


_install()


def retry_after(resp: httpx.Response) -> float | None:
    v = resp.headers.get("retry-after")
    try:
        return max(float(v), 0.0) if v is not None else None
    except ValueError:
        return None


def request_json(http: httpx.Client, method: str, url: str, *, what: str, **kw) -> Any:
    """Send one request and return its JSON body. Timeouts, connection errors, 5xx → transient;
    429 → rate limited; other 4xx and non-JSON bodies → permanent."""
    try:
        resp = http.request(method, url, **kw)
    except (httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ConnectError) as e:
        raise TransientError(f"{what}: {type(e).__name__}") from None  # never left the machine
    except httpx.TimeoutException:
        raise TransientError(f"{what}: timeout", maybe_delivered=True) from None
    except httpx.TransportError as e:  # sent, but the answer was lost
        raise TransientError(f"{what}: {type(e).__name__}", maybe_delivered=True) from None
    if resp.status_code == 429:
        raise RateLimited(f"{what}: HTTP 429", retry_after(resp))
    if resp.status_code >= 500 or resp.status_code in (408, 425):
        raise TransientError(f"{what}: HTTP {resp.status_code}", retry_after(resp))
    if resp.status_code >= 400:
        raise PermanentError(f"{what}: HTTP {resp.status_code}")
    try:
        return resp.json()
    except ValueError:
        raise TransientError(f"{what}: answer is not JSON") from None
