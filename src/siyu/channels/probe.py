"""`siyu channels test CHANNEL`: send one test message to the configured test recipient and
report each step."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime

from siyu.channels.base import ChannelError, get_channel_class
from siyu.channels.dispatcher import drain
from siyu.channels.outbox import enqueue, list_rows, receipts
from siyu.errors import UsageError
from siyu.i18n import tr

__all__ = ["probe", "ProbeResult"]


@dataclass
class ProbeResult:
    channel: str
    ok: bool = False
    steps: list[dict] = field(default_factory=list)

    def step(self, name: str, ok: bool, detail: str = "") -> None:
        self.steps.append({"step": name, "ok": ok, "detail": detail})

    def as_json(self) -> dict:
        return {"channel": self.channel, "ok": self.ok, "steps": self.steps}


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
    res.step("recipient", True, "set" if to else "-")
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
    row = next(r for r in list_rows(ws, limit=20) if r["id"] == ids[0])
    if row["status"] == "sent":
        res.ok = True
        res.step("sent", True, row["provider_message_id"] or "")
    else:
        res.step(row["status"], False, row["last_error"] or "")
    res.step("receipts", True, ", ".join(r["status"] for r in receipts(ws, ids[0])))
    return res
