"""`siyu channels test CHANNEL`: send one test message to the configured test recipient and
report each step."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select

from siyu.channels.base import ChannelError, get_channel_class
from siyu.channels.dispatcher import drain
from siyu.channels.outbox import enqueue, receipts
from siyu.errors import UsageError
from siyu.i18n import tr
from siyu.ops.tables import outbox

__all__ = ["probe", "ProbeResult"]


@dataclass
class ProbeResult:
    channel: str
    ok: bool = False
    steps: list[dict] = field(default_factory=list)

    def step(self, name: str, ok: bool, detail: str = "") -> None:
        """``name`` is the step's stable id (JSON); ``label`` its zh-CN / English title."""
        self.steps.append({"step": name, "label": _label(name), "ok": ok, "detail": detail})

    def as_json(self) -> dict:
        return {"channel": self.channel, "ok": self.ok, "steps": self.steps}


_LABELS = {
    "recipient": ("接收人", "recipient"), "check": ("检查配置", "check"),
    "corp": ("企业 ID", "corp"), "app id": ("AppID", "app id"),
    "access token": ("获取 access_token", "access token"),
    "provider": ("短信服务商", "provider"), "endpoint": ("接口地址", "endpoint"),
    "url": ("地址", "url"), "signing": ("签名", "signing"),
    "queued": ("已入发送队列", "queued"), "sent": ("已发送", "sent"),
    "dead": ("发送失败（死信）", "dead (dead letter)"),
    "failed": ("暂时失败，稍后由 siyu dispatch 重试", "failed for now, siyu dispatch retries it"),
    "pending": ("未发送（渠道暂停）", "not sent (channel paused)"),
    "sending": ("发送中", "sending"), "receipts": ("回执", "receipts"),
}


def _label(name: str) -> str:
    zh, en = _LABELS.get(name, (name, name))
    return tr(zh, en)


def _payload(channel: str, text: str, template: str | None, params: list[str]) -> dict:
    if channel in ("official_account", "miniprogram"):
        if not template:
            raise UsageError(tr("{c} 需要 --template 模板 ID", "{c} needs --template ID",
                                c=channel))
        return {"template_id": template,
                "data": {f"thing{i + 1}": p for i, p in enumerate(params or [text])}}
    if channel == "sms":
        if not template:
            raise UsageError(tr("sms 需要 --template 模板 ID", "sms needs --template ID"))
        return {"template_id": template, "params": params}
    return {"text": text}


def probe(ws, channel: str, *, recipient: str | None = None, guide: str | None = None,
          text: str = "siyu 渠道测试消息 / channel test", template: str | None = None,
          params: list[str] | None = None) -> ProbeResult:
    cls = get_channel_class(channel)
    res = ProbeResult(channel)
    to = recipient or ws.settings.channel_test_recipients.get(channel)
    needs_to = channel not in ("file", "console", "wecom_moments", "webhook")
    if needs_to and not to:
        res.step("recipient", False, tr("未配置测试接收人（channel_test_recipients 或 --to）",
                                        "no test recipient (channel_test_recipients or --to)"))
        return res
    res.step("recipient", True, tr("已设置", "set") if to else "-")
    import httpx

    with httpx.Client(timeout=ws.settings.channel_timeout_seconds) as http:
        ch = cls(ws, http=http)
        try:
            for name, detail in ch.check():
                res.step(name, True, detail)
        except ChannelError as e:
            res.step("check", False, str(e))
            return res
        key = f"test:{channel}:{datetime.now(UTC):%Y%m%dT%H%M%S}:{secrets.token_hex(3)}"
        ids = enqueue(ws, [{"idempotency_key": key, "channel": channel, "recipient": to,
                            "guide_id": guide or ws.settings.channel_test_recipients.get(
                                "guide"), "purpose": "service", "source": "test",
                            "payload": _payload(channel, text, template, params or [])}])
        res.step("queued", True, f"outbox id {ids[0]}")
        drain(ws, ids=ids, http=http)
    with ws.ops.engine.connect() as c:  # by id: other messages may be queued meanwhile
        row = c.execute(select(outbox.c.status, outbox.c.provider_message_id,
                               outbox.c.last_error).where(outbox.c.id == ids[0])).one()
    if row.status == "sent":
        res.ok = True
        res.step("sent", True, row.provider_message_id or "")
    else:
        res.step(row.status, False, row.last_error or "")
    res.step("receipts", True, ", ".join(r["status"] for r in receipts(ws, ids[0])))
    return res
