"""HTTP calls of the provider channels: every network failure becomes a channel error."""

from __future__ import annotations

from typing import Any

import httpx

from siyu.channels.base import PermanentError, RateLimited, TransientError

__all__ = ["request_json", "retry_after"]


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
