"""The WeCom channels.

``wecom`` — to one external contact (``recipient`` = external_userid, ``guide_id`` = the
guide's WeCom userid). ``payload.kind``:

- ``message`` (default): 企业群发 task for the guide (``add_msg_template``, chat_type
  ``single``); messages of one claim with the same guide and the same content share one task
  (one ``msgid``), as WeCom intends; ``payload`` = ``{"text": "…", "attachments": [...]}``.
  Without a ``guide_id`` (journey sends) the task has no ``sender`` and WeCom gives it to the
  member who last chatted with each customer;
- ``welcome``: 欢迎语 with the WelcomeCode of the guide's add-contact callback (must be sent
  within 20 s of the event); a missing or older code dead-letters the message;
- ``mark_tag``: ``{"add": [siyu tags], "remove": [...]}`` → WeCom tag ids through the
  ``wecom_tag_map`` setting.

``wecom_group`` — to a customer group (``recipient`` = chat_id), a 企业群发 task of chat type
``group`` for the group owner (``guide_id``). ``wecom_moments`` — a 客户朋友圈 task
(``add_moment_task``) for the guide (``guide_id``), visible to ``payload.tag_ids`` if given.

The mass-send API has no idempotency key, so siyu dedupes on its side: a message whose earlier
attempt is *in doubt* is looked up first (``get_groupmsg_list_v2`` for the guide's tasks with
the same content since the message was created, then ``get_groupmsg_send_result`` for the
recipient); only when no task holds it is it sent again.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from siyu.channels.base import (
    Channel,
    Dead,
    Message,
    Outcome,
    PermanentError,
    Sent,
    TransientError,
    outcome_of,
    register,
)
from siyu.channels.wecom.client import client_for
from siyu.ops.tables import channel_inbound

__all__ = ["WeComChannel", "WeComGroupChannel", "WeComMomentsChannel"]

WELCOME_SECONDS = 20
WELCOME_RETRY_SECONDS = 1.0


def _content(payload: dict) -> dict:
    body: dict = {}
    if payload.get("text"):
        body["text"] = {"content": str(payload["text"])}
    if payload.get("attachments"):
        body["attachments"] = payload["attachments"]
    if not body:
        raise PermanentError("wecom: the message has neither text nor attachments")
    return body


class _MassSend(Channel):
    chat_type = "single"

    def check(self):
        c = client_for(self)
        c.tokens.token(force=True)
        return [("corp", c.corp_id), ("access token", "ok")]

    def _task_body(self, guide: str | None, content: dict, targets: list[str]) -> dict:
        if not guide and self.chat_type == "group":
            raise PermanentError("wecom: no guide_id (the group owner who confirms the task)")
        body = {"chat_type": self.chat_type, **content}
        if guide:  # without it (single chats) WeCom gives the task to the member who last
            body["sender"] = guide  # chatted with each customer
        body["external_userid" if self.chat_type == "single" else "chat_id_list"] = targets
        return body

    def send(self, msg: Message) -> Outcome:
        return self._send_group([msg])[0]

    def _send_group(self, msgs: list[Message]) -> list[Outcome]:
        """One task for messages sharing the guide and content."""
        try:
            content = _content(msgs[0].payload)
            targets = [m.recipient for m in msgs]
            if not all(targets):
                raise PermanentError("wecom: no recipient")
            got = client_for(self).add_msg_template(
                self._task_body(msgs[0].guide_id, content, targets))
        except Exception as e:
            return [outcome_of(e)] * len(msgs)
        failed = set(got.get("fail_list") or [])
        mid = got.get("msgid")
        return [Dead("wecom: recipient not reachable by this guide (fail_list)")
                if m.recipient in failed else Sent(mid) for m in msgs]

    def send_many(self, msgs, pool=None, on_rate_limit=None) -> list[Outcome]:
        out: dict[int, Outcome] = {}
        todo: list[Message] = []
        for m in msgs:
            if self.paused_until is not None:
                from siyu.channels.base import Deferred

                out[m.id] = Deferred(self.paused_until)
            elif m.in_doubt:
                try:
                    got = self.resolve_in_doubt(m)
                except Exception as e:
                    got = outcome_of(e)
                if got is None:
                    todo.append(m)
                else:
                    out[m.id] = got
            elif m.payload.get("kind", "message") == "message":
                todo.append(m)
            else:
                out[m.id] = self._guarded(m, on_rate_limit)
        groups: dict[tuple, list[Message]] = {}
        for m in todo:
            if m.payload.get("kind", "message") != "message":
                out[m.id] = self._guarded(m, on_rate_limit)
                continue
            key = (m.guide_id, json.dumps(
                {k: m.payload.get(k) for k in ("text", "attachments")}, sort_keys=True))
            groups.setdefault(key, []).append(m)
        batches = [g[i:i + 1000] for g in groups.values() for i in range(0, len(g), 1000)]

        def run(batch: list[Message]) -> list[Outcome]:
            if self.paused_until is not None:
                from siyu.channels.base import Deferred

                return [Deferred(self.paused_until)] * len(batch)
            got = self._send_group(batch)
            for o in got:
                if getattr(o, "rate_limited", False) and on_rate_limit is not None:
                    on_rate_limit(o)
                    break
            return got

        results = list(pool.map(run, batches)) if pool is not None and len(batches) > 1 else [
            run(b) for b in batches]
        for b, res in zip(batches, results, strict=True):
            for m, o in zip(b, res, strict=True):
                out[m.id] = o
        return [out[m.id] for m in msgs]

    def resolve_in_doubt(self, msg: Message) -> Outcome | None:
        kind = msg.payload.get("kind", "message")
        if kind == "mark_tag":
            return None  # marking a tag twice is harmless
        if kind != "message":
            return super().resolve_in_doubt(msg)
        c = client_for(self)
        content = _content(msg.payload)
        start = int(((msg.created_at or datetime.now(UTC)) - timedelta(minutes=5)).timestamp())
        end = int(time.time()) + 60
        for task in c.groupmsg_list(self.chat_type, start, end, msg.guide_id):
            if (task.get("text") or {}).get("content") != (content.get("text") or {}).get(
                    "content"):
                continue
            for row in c.results_of(task["msgid"], msg.guide_id or task.get("creator") or None):
                if msg.recipient in (row.get("external_userid"), row.get("chat_id")):
                    return Sent(task["msgid"])
        return None


@register
class WeComChannel(_MassSend):
    name = "wecom"

    def send(self, msg: Message) -> Outcome:
        kind = msg.payload.get("kind", "message")
        if kind == "welcome":
            return self._welcome(msg)
        if kind == "mark_tag":
            return self._mark_tag(msg)
        if kind != "message":
            raise PermanentError(f"wecom: unknown payload kind {kind!r}")
        return self._send_group([msg])[0]

    def _welcome(self, msg: Message) -> Outcome:
        q = select(channel_inbound.c.fields, channel_inbound.c.welcome_code,
                   channel_inbound.c.received_at).where(
            channel_inbound.c.welcome_code.is_not(None))
        inbound = msg.payload.get("inbound_id")  # rows queued by the callback name their event
        q = q.where(channel_inbound.c.id == int(inbound)) if isinstance(inbound, int) else \
            q.order_by(channel_inbound.c.id.desc()).limit(200)
        with self.ws.ops.engine.connect() as c:
            rows = c.execute(q).all()
        row = next((r for r in rows if r.fields.get("ExternalUserID") == msg.recipient
                    and (not msg.guide_id or r.fields.get("UserID") == msg.guide_id)), None)
        if row is None:
            raise PermanentError("wecom welcome: no WelcomeCode from an add-contact callback")
        got = row.received_at if row.received_at.tzinfo else row.received_at.replace(tzinfo=UTC)
        if (datetime.now(UTC) - got).total_seconds() > WELCOME_SECONDS:
            raise PermanentError("wecom welcome: the WelcomeCode is older than 20 s")
        try:
            client_for(self).call("send_welcome_msg", {"welcome_code": row.welcome_code,
                                                       **_content(msg.payload)})
        except TransientError as e:  # retried at once: the code lives 20 s, not a backoff
            return replace(outcome_of(e), before=WELCOME_RETRY_SECONDS)
        return Sent(None)

    def _mark_tag(self, msg: Message) -> Outcome:
        tag_map = self.settings.wecom_tag_map
        ids = {}
        for part in ("add", "remove"):
            names = msg.payload.get(part) or []
            unknown = [t for t in names if t not in tag_map]
            if unknown:
                raise PermanentError(f"wecom mark_tag: no WeCom tag id for {unknown} "
                                     "(setting wecom_tag_map)")
            ids[part] = [tag_map[t] for t in names]
        if not msg.guide_id or not msg.recipient:
            raise PermanentError("wecom mark_tag: needs guide_id and recipient")
        client_for(self).call("mark_tag", {"userid": msg.guide_id,
                                           "external_userid": msg.recipient,
                                           "add_tag": ids["add"], "remove_tag": ids["remove"]})
        return Sent(None)


@register
class WeComGroupChannel(_MassSend):
    name = "wecom_group"
    chat_type = "group"


@register
class WeComMomentsChannel(Channel):
    name = "wecom_moments"

    def check(self):
        client_for(self).tokens.token(force=True)
        return [("access token", "ok")]

    def send(self, msg: Message) -> Outcome:
        body = _content(msg.payload)
        if msg.guide_id:
            body["visible_range"] = {"sender_list": {"user_list": [msg.guide_id]}}
        if msg.payload.get("tag_ids"):
            body.setdefault("visible_range", {})["external_contact_list"] = {
                "tag_list": list(msg.payload["tag_ids"])}
        got = client_for(self).call("add_moment_task", body)
        return Sent(got.get("jobid"))
