"""The WeCom server API calls siyu makes (developer.work.weixin.qq.com, 客户联系):

- ``GET  /cgi-bin/gettoken?corpid&corpsecret`` — the access token (7200 s);
- ``POST /cgi-bin/externalcontact/add_msg_template`` — 创建企业群发: a task the guide
  (``sender``) confirms in WeCom, to external contacts (``chat_type=single``) or customer
  groups (``group``); answers ``msgid`` and a ``fail_list`` of unreachable contacts;
- ``POST …/get_groupmsg_list_v2``, ``…/get_groupmsg_task``, ``…/get_groupmsg_send_result`` —
  the tasks created, and per guide what was actually sent (status 0 not yet, 1 sent, 2 not a
  friend, 3 already received a mass message);
- ``POST …/send_welcome_msg`` — 新客户欢迎语 with the callback's ``WelcomeCode`` (20 s);
- ``POST …/add_moment_task`` — 客户朋友圈 task (asynchronous: a ``jobid``);
  ``GET …/get_moment_task_result?jobid`` — its ``moment_id`` or error, and the invalid
  senders; ``POST …/get_moment_task`` — per guide whether it was published;
- ``POST …/mark_tag`` — 编辑客户企业标签.
"""

from __future__ import annotations

from typing import Any

from siyu.channels.base import PermanentError
from siyu.channels.http import request_json
from siyu.channels.tokens import TokenClient

__all__ = ["WeComClient", "client_for"]

EC = "/cgi-bin/externalcontact"


class WeComClient:
    def __init__(self, ws, http):
        s = ws.settings
        self.corp_id = s.wecom_corp_id
        secret = s.wecom_secret.get_secret_value()
        base = s.wecom_base_url.rstrip("/")

        def fetch() -> dict[str, Any]:
            if not self.corp_id or not secret:
                raise PermanentError("wecom: wecom_corp_id / wecom_secret not set")
            return request_json(http, "GET", f"{base}/cgi-bin/gettoken",
                                params={"corpid": self.corp_id, "corpsecret": secret},
                                what="wecom gettoken")

        self.tokens = TokenClient(ws, http, f"wecom:{self.corp_id}", base, fetch)

    def call(self, name: str, body: dict) -> dict:
        return self.tokens.call(f"{EC}/{name}", body, what=f"wecom {name}")

    def add_msg_template(self, body: dict) -> dict:
        return self.call("add_msg_template", body)

    def groupmsg_list(self, chat_type: str, start: int, end: int, creator: str | None,
                      limit: int = 100) -> list[dict]:
        out: list[dict] = []
        cursor = ""
        for _ in range(20):
            body = {"chat_type": chat_type, "start_time": start, "end_time": end,
                    "filter_type": 0, "limit": limit, "cursor": cursor}
            if creator:
                body["creator"] = creator
            got = self.call("get_groupmsg_list_v2", body)
            out.extend(got.get("group_msg_list") or [])
            cursor = got.get("next_cursor") or ""
            if not cursor:
                break
        return out

    def task_members(self, msgid: str) -> list[str]:
        """``get_groupmsg_task``: the members (userids) a mass-send task went to — needed when
        the task was created without a sender (WeCom picked the member)."""
        out: list[str] = []
        cursor = ""
        for _ in range(50):
            got = self.call("get_groupmsg_task", {"msgid": msgid, "limit": 1000,
                                                  "cursor": cursor})
            out.extend(str(t["userid"]) for t in got.get("task_list") or [] if t.get("userid"))
            cursor = got.get("next_cursor") or ""
            if not cursor:
                break
        return out

    def results_of(self, msgid: str, userid: str | None) -> list[dict]:
        """What a task's members sent: of ``userid``, or of every member when it is None."""
        users = [userid] if userid else self.task_members(msgid)
        return [row for u in users for row in self.send_result(msgid, u)]

    def send_result(self, msgid: str, userid: str) -> list[dict]:
        out: list[dict] = []
        cursor = ""
        for _ in range(50):
            got = self.call("get_groupmsg_send_result",
                            {"msgid": msgid, "userid": userid, "limit": 1000, "cursor": cursor})
            out.extend(got.get("send_list") or [])
            cursor = got.get("next_cursor") or ""
            if not cursor:
                break
        return out


    def moment_task_result(self, jobid: str) -> dict:
        """``GET …/get_moment_task_result?jobid``: ``status`` 1 started, 2 creating, 3 done;
        when done, ``result`` = {errcode, moment_id, invalid_sender_list,
        invalid_external_contact_list}."""
        return self.tokens.call(f"{EC}/get_moment_task_result", None, method="GET",
                                params={"jobid": jobid}, what="wecom get_moment_task_result")

    def moment_task(self, moment_id: str) -> list[dict]:
        """``POST …/get_moment_task``: per guide (userid) ``publish_status`` 0 not yet, 1
        published."""
        out: list[dict] = []
        cursor = ""
        for _ in range(50):
            got = self.call("get_moment_task", {"moment_id": moment_id, "cursor": cursor,
                                                "limit": 1000})
            out.extend(got.get("task_list") or [])
            cursor = got.get("next_cursor") or ""
            if not cursor:
                break
        return out


def client_for(channel) -> WeComClient:
    """One client (one token cache) per channel object."""
    c = getattr(channel, "_wecom", None)
    if c is None:
        c = channel._wecom = WeComClient(channel.ws, channel.http)
    return c
