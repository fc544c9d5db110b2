"""Access tokens of the WeChat-family APIs (WeCom, official account, mini-program): fetched
once, cached in memory and in the operational store (``channel_tokens``, shared by every
dispatcher process), refreshed early and again at once when the provider says the token
expired (42001) or is invalid (40014, 41001)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select

from siyu.channels.errcodes import TOKEN_CODES, raise_for_errcode
from siyu.channels.http import request_json
from siyu.ops.tables import channel_tokens

__all__ = ["TokenClient"]

MARGIN = timedelta(seconds=300)


class TokenClient:
    """Calls of one API account. ``fetch`` returns the provider's token answer."""

    def __init__(self, ws, http, name: str, base_url: str,
                 fetch: Callable[[], dict[str, Any]]):
        self.ws, self.http, self.name, self.base_url = ws, http, name, base_url.rstrip("/")
        self._fetch = fetch
        self._token: str | None = None
        self._expires: datetime | None = None
        self._lock = threading.Lock()
        self.fetches = 0

    def _load(self) -> None:
        with self.ws.ops.engine.connect() as c:
            r = c.execute(select(channel_tokens).where(channel_tokens.c.name == self.name)).first()
        if r is not None:
            exp = r.expires_at if r.expires_at.tzinfo else r.expires_at.replace(tzinfo=UTC)
            if exp - MARGIN > datetime.now(UTC):
                self._token, self._expires = r.token, exp

    def token(self, *, force: bool = False, stale: str | None = None) -> str:
        with self._lock:
            now = datetime.now(UTC)
            if force and stale is not None and self._token not in (None, stale):
                return self._token  # another thread already refreshed it
            if not force and self._token and self._expires and self._expires - MARGIN > now:
                return self._token
            if not force:
                self._load()
                if self._token and self._expires and self._expires - MARGIN > now:
                    return self._token
            got = self._fetch()
            raise_for_errcode(got, f"{self.name} token")
            tok = got.get("access_token")
            if not tok:
                from siyu.channels.base import TransientError

                raise TransientError(f"{self.name} token: no access_token in the answer")
            self.fetches += 1
            self._token = tok
            self._expires = now + timedelta(seconds=int(got.get("expires_in") or 7200))
            with self.ws.ops.engine.begin() as c:
                c.execute(delete(channel_tokens).where(channel_tokens.c.name == self.name))
                c.execute(insert(channel_tokens).values(name=self.name, token=tok,
                                                        expires_at=self._expires))
            return tok

    def call(self, path: str, body: dict | None = None, *, what: str,
             method: str = "POST", params: dict[str, str] | None = None) -> dict:
        """One API call with the token (and ``params`` in the query string); a token the
        provider rejects is refreshed once."""
        tok = self.token()
        for first in (True, False):
            got = request_json(self.http, method, f"{self.base_url}{path}",
                               params={**(params or {}), "access_token": tok}, json=body,
                               what=what)
            if isinstance(got, dict) and got.get("errcode") in TOKEN_CODES and first:
                tok = self.token(force=True, stale=tok)
                continue
            raise_for_errcode(got, what)
            return got
        raise AssertionError("unreachable")  # pragma: no cover
