"""A fake WeCom server: gettoken and the 客户联系 endpoints siyu calls, with the documented
request and answer shapes; it also sends encrypted callbacks like WeCom does."""

from __future__ import annotations

import itertools
import time
from collections import Counter

from siyu.channels.fakes.server import FakeServer, Request
from siyu.channels.fakes.tokens import TokenIssuer

__all__ = ["FakeWeCom"]

EC = "/cgi-bin/externalcontact/"


class FakeWeCom(FakeServer):
    def __init__(self, corp_id: str = "wwfakecorp", secret: str = "fake-secret"):
        super().__init__()
        self.corp_id, self.secret = corp_id, secret
        self.tokens = TokenIssuer("wecom-tok")
        self.tasks: list[dict] = []
        self.not_friends: set[str] = set()
        self.last_member: dict[str, str] = {}  # external_userid → the member it last chatted with
        self.welcome_codes: dict[str, bool] = {}  # code → used
        self.welcomes: list[dict] = []
        self.tags: list[dict] = []
        self.moments: list[dict] = []
        self.moments_creating: set[str] = set()  # jobids WeCom is still creating (status 2)
        self.moment_errors: dict[str, dict] = {}  # jobid → result errcode/errmsg
        self.invalid_senders: set[str] = set()  # userids add_moment_task reports invalid
        self.published: set[tuple[str, str]] = set()  # (moment_id, userid) published
        self.sent_status: dict[tuple[str, str], int] = {}  # (msgid, target) → 0/1/2/3
        self._ids = itertools.count(1)

    # -- what tests look at --------------------------------------------------------------------
    def deliveries(self) -> Counter[str]:
        """How many tasks hold each recipient (external_userid or chat id)."""
        c: Counter[str] = Counter()
        for t in self.tasks:
            for r in t["targets"]:
                if r not in t["failed"]:
                    c[r] += 1
        return c

    # -- the protocol ----------------------------------------------------------------------------
    def handle(self, req: Request):
        if req.path == "/cgi-bin/gettoken":
            if req.query.get("corpid") != self.corp_id or req.query.get(
                    "corpsecret") != self.secret:
                return 200, {"errcode": 40001, "errmsg": "invalid credential"}, {}
            return 200, self.tokens.issue(), {}
        bad = self.tokens.check(req.query.get("access_token"))
        if bad:
            return 200, bad, {}
        if not req.path.startswith(EC):
            return 404, {"errcode": 404, "errmsg": "not found"}, {}
        name = req.path[len(EC):]
        try:
            body = req.json() or {}
        except ValueError:
            return 200, {"errcode": 47001, "errmsg": "data format error"}, {}
        if name == "get_moment_task_result":  # the one GET: jobid in the query string
            return 200, self._get_moment_task_result(req.query), {}
        fn = getattr(self, f"_{name}", None)
        if fn is None:
            return 200, {"errcode": 48002, "errmsg": "api forbidden"}, {}
        return 200, fn(body), {}

    def _add_msg_template(self, b: dict) -> dict:
        chat_type = b.get("chat_type", "single")
        if chat_type not in ("single", "group"):
            return {"errcode": 40058, "errmsg": "invalid chat_type"}
        targets = b.get("external_userid" if chat_type == "single" else "chat_id_list") or []
        if not b.get("sender") and (chat_type == "group" or not targets):
            return {"errcode": 40058, "errmsg": "sender required"}
        if not (b.get("text") or b.get("attachments")):
            return {"errcode": 41048, "errmsg": "content required"}
        with self.lock:
            msgid = f"msg{next(self._ids):06d}"
            failed = [t for t in targets if t in self.not_friends]
            # without a sender WeCom pushes each customer to the member who last chatted
            # with them (`last_member`, default guide01)
            members: dict[str, list[str]] = {}
            for t in targets:
                members.setdefault(b.get("sender") or self.last_member.get(t, "guide01"),
                                   []).append(t)
            self.tasks.append({"msgid": msgid, "creator": b.get("sender") or "",
                               "chat_type": chat_type, "text": b.get("text"),
                               "attachments": b.get("attachments"),
                               "create_time": int(time.time()), "targets": list(targets),
                               "failed": failed, "members": members})
        return {"errcode": 0, "errmsg": "ok", "fail_list": failed, "msgid": msgid}

    def _get_groupmsg_list_v2(self, b: dict) -> dict:
        rows = [t for t in self.tasks if t["chat_type"] == b.get("chat_type", "single")
                and b.get("start_time", 0) <= t["create_time"] <= b.get("end_time", 2**40)
                and (not b.get("creator") or t["creator"] == b["creator"])]
        return {"errcode": 0, "errmsg": "ok", "next_cursor": "", "group_msg_list": [
            {"msgid": t["msgid"], "creator": t["creator"], "create_time": str(t["create_time"]),
             "create_type": 0, "text": t["text"] or {}, "attachments": t["attachments"] or []}
            for t in rows]}

    def _get_groupmsg_task(self, b: dict) -> dict:
        t = next((t for t in self.tasks if t["msgid"] == b.get("msgid")), None)
        if t is None:
            return {"errcode": 41063, "errmsg": "msgid not found"}
        return {"errcode": 0, "errmsg": "ok", "next_cursor": "",
                "task_list": [{"userid": u, "status": 1, "send_time": t["create_time"]}
                              for u in t["members"]]}

    def _get_groupmsg_send_result(self, b: dict) -> dict:
        t = next((t for t in self.tasks if t["msgid"] == b.get("msgid")), None)
        if t is None:
            return {"errcode": 41063, "errmsg": "msgid not found"}
        key = "external_userid" if t["chat_type"] == "single" else "chat_id"
        rows = []
        for r in t["members"].get(b.get("userid"), []):
            st = 2 if r in t["failed"] else self.sent_status.get((t["msgid"], r), 0)
            row = {key: r, "userid": b.get("userid"), "status": st}
            if st == 1:
                row["send_time"] = t["create_time"]
            rows.append(row)
        return {"errcode": 0, "errmsg": "ok", "next_cursor": "", "send_list": rows}

    def _send_welcome_msg(self, b: dict) -> dict:
        code = b.get("welcome_code")
        if code not in self.welcome_codes:
            return {"errcode": 40097, "errmsg": "invalid welcome_code"}
        if self.welcome_codes[code]:
            return {"errcode": 41051, "errmsg": "welcome_code used"}
        self.welcome_codes[code] = True
        self.welcomes.append(b)
        return {"errcode": 0, "errmsg": "ok"}

    def _mark_tag(self, b: dict) -> dict:
        if not b.get("userid") or not b.get("external_userid"):
            return {"errcode": 40003, "errmsg": "invalid userid"}
        self.tags.append(b)
        return {"errcode": 0, "errmsg": "ok"}

    def _add_moment_task(self, b: dict) -> dict:
        n = next(self._ids)
        jobid = f"job{n:06d}"
        self.moments.append({"jobid": jobid, "moment_id": f"mom{n:06d}", **b})
        return {"errcode": 0, "errmsg": "ok", "jobid": jobid}

    def _get_moment_task_result(self, q: dict) -> dict:
        m = next((m for m in self.moments if m["jobid"] == q.get("jobid")), None)
        if m is None:
            return {"errcode": 40071, "errmsg": "invalid jobid"}
        if m["jobid"] in self.moments_creating:
            return {"errcode": 0, "errmsg": "ok", "status": 2, "type": "add_moment_task"}
        err = self.moment_errors.get(m["jobid"])
        senders = ((m.get("visible_range") or {}).get("sender_list") or {}).get("user_list") or []
        result = {"errcode": 0, "errmsg": "ok", "moment_id": m["moment_id"],
                  "invalid_sender_list": {"user_list": [u for u in senders
                                                        if u in self.invalid_senders]},
                  "invalid_external_contact_list": {"tag_list": []}}
        if err:
            result = dict(err)
        return {"errcode": 0, "errmsg": "ok", "status": 3, "type": "add_moment_task",
                "result": result}

    def _get_moment_task(self, b: dict) -> dict:
        m = next((m for m in self.moments if m["moment_id"] == b.get("moment_id")), None)
        if m is None:
            return {"errcode": 40071, "errmsg": "invalid moment_id"}
        senders = ((m.get("visible_range") or {}).get("sender_list") or {}).get("user_list") or []
        return {"errcode": 0, "errmsg": "ok", "next_cursor": "", "task_list": [
            {"userid": u, "publish_status": int((m["moment_id"], u) in self.published)}
            for u in senders if u not in self.invalid_senders]}
