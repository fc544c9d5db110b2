"""Access tokens as the WeChat-family servers hand them out (shared by the fakes)."""

from __future__ import annotations

import itertools

__all__ = ["TokenIssuer"]


class TokenIssuer:
    def __init__(self, prefix: str):
        self.prefix = prefix
        self.valid: set[str] = set()
        self.expired: set[str] = set()
        self.issued = 0
        self._n = itertools.count(1)

    def issue(self) -> dict:
        tok = f"{self.prefix}-{next(self._n)}"
        self.valid.add(tok)
        self.issued += 1
        return {"errcode": 0, "errmsg": "ok", "access_token": tok, "expires_in": 7200}

    def expire_all(self) -> None:
        """Every token handed out so far expires (the next call with one gets 42001)."""
        self.expired |= self.valid
        self.valid.clear()

    def check(self, tok: str | None) -> dict | None:
        """None when ``tok`` is good, else the error answer."""
        if not tok:
            return {"errcode": 41001, "errmsg": "access_token missing"}
        if tok in self.expired:
            return {"errcode": 42001, "errmsg": "access_token expired"}
        if tok not in self.valid:
            return {"errcode": 40014, "errmsg": "invalid access_token"}
        return None
