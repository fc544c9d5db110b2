"""A fake api.weixin.qq.com: the token, official-account template messages (deduplicated on
``client_msg_id`` as WeChat does) and mini-program subscription messages."""

from __future__ import annotations

import itertools
from collections import Counter

from siyu.channels.fakes.server import FakeServer, Request
from siyu.channels.fakes.tokens import TokenIssuer

__all__ = ["FakeWeChat"]


class FakeWeChat(FakeServer):
    def __init__(self, apps: dict[str, str] | None = None):
        super().__init__()
        self.apps = apps or {"wxoa": "oa-secret", "wxmp": "mp-secret"}
        self.tokens = TokenIssuer("wx-tok")
        self.templates: list[dict] = []
        self.subscribes: list[dict] = []
        self.refused: set[str] = set()  # openids that refused subscription messages
        self._seen: dict[tuple[str, str], int] = {}
        self._ids = itertools.count(1000)

    def delivered(self) -> Counter[str]:
        c: Counter[str] = Counter(t["touser"] for t in self.templates)
        c.update(s["touser"] for s in self.subscribes)
        return c

    def handle(self, req: Request):
        if req.path == "/cgi-bin/token":
            q = req.query
            if q.get("grant_type") != "client_credential" or self.apps.get(
                    q.get("appid", "")) != q.get("secret"):
                return 200, {"errcode": 40013, "errmsg": "invalid appid"}, {}
            got = self.tokens.issue()
            return 200, {"access_token": got["access_token"], "expires_in": 7200}, {}
        bad = self.tokens.check(req.query.get("access_token"))
        if bad:
            return 200, bad, {}
        try:
            b = req.json() or {}
        except ValueError:
            return 200, {"errcode": 47001, "errmsg": "data format error"}, {}
        if not b.get("touser") or not b.get("template_id") or not isinstance(b.get("data"),
                                                                            dict):
            return 200, {"errcode": 47003, "errmsg": "argument invalid"}, {}
        if req.path == "/cgi-bin/message/template/send":
            with self.lock:
                key = (b["touser"], b.get("client_msg_id") or "")
                if key[1] and key in self._seen:
                    return 200, {"errcode": 0, "errmsg": "ok", "msgid": self._seen[key]}, {}
                mid = next(self._ids)
                if key[1]:
                    self._seen[key] = mid
                self.templates.append(b)
            return 200, {"errcode": 0, "errmsg": "ok", "msgid": mid}, {}
        if req.path == "/cgi-bin/message/subscribe/send":
            if b["touser"] in self.refused:
                return 200, {"errcode": 43101, "errmsg": "user refuse to accept the msg"}, {}
            with self.lock:
                self.subscribes.append(b)
            return 200, {"errcode": 0, "errmsg": "ok"}, {}
        return 404, {"errcode": 404, "errmsg": "not found"}, {}
