"""Delivery receipts after the send: ``delivered``, ``failed`` and ``read`` as channels report
them.

- WeCom mass-send tasks are *sent* when created; whether the guide then sent each message is
  polled with ``get_groupmsg_send_result`` (status 1 → ``delivered`` at its send_time; 2 not
  a friend, 3 already received a mass message today → ``failed``; 0 → not yet, asked again
  at the next poll for ``max_age_days``);
- WeCom customer-moments tasks (``add_moment_task`` answers a ``jobid``): polled with
  ``get_moment_task_result`` and ``get_moment_task`` (:func:`poll_wecom_moments`): the guide
  published → ``delivered``; the task failed or the guide is not a valid sender → ``failed``;
- Tencent Cloud SMS delivery reports are pulled with ``PullSmsSendStatus``
  (:func:`poll_sms`): ``SUCCESS`` → ``delivered`` at UserReceiveTime, ``FAIL`` → ``failed``
  with the carrier's code; a report is matched by SerialNo (the outbox row's
  provider_message_id), else by SessionContext (its idempotency key);
- official-account template messages report through the ``TEMPLATESENDJOBFINISH`` event
  (:mod:`siyu.channels.wechat_callback`), matched by MsgID;
- a webhook receiver reports later receipts at ``/callbacks/webhook``
  (:mod:`siyu.channels.webhook_callback`, through :func:`record_provider_receipts`); code in
  the same process can call :func:`record_receipt`; a ``read`` receipt also sets
  ``outbox.read_at``.

:data:`POLLERS` lists the pollers that ``siyu dispatch`` runs every minute and
``siyu outbox receipts`` runs once (:func:`poll_receipts`), each only when its channel is
configured.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import and_, insert, select, update

from siyu.channels.dispatcher import _insert_receipts, utc
from siyu.ops.tables import channel_receipts, outbox

__all__ = ["poll_wecom", "poll_wecom_moments", "poll_sms", "poll_receipts", "record_receipt",
           "receipts_after", "record_provider_receipts", "POLLERS", "RECEIPT_STATUSES"]

log = logging.getLogger("siyu.channels")
RECEIPT_STATUSES = ("sent", "delivered", "failed", "read")


def record_receipt(ws, *, status: str, outbox_id: int | None = None,
                   provider_message_id: str | None = None, at: datetime | None = None,
                   detail: dict | None = None) -> int:
    """Record a receipt for the message(s) with this id or provider message id; returns how
    many messages it applied to (a receipt already recorded counts once)."""
    if status not in RECEIPT_STATUSES:
        from siyu.errors import UsageError

        raise UsageError(f"unknown receipt status {status!r}")
    at = utc(at) or datetime.now(UTC)
    with ws.ops.engine.begin() as c:
        q = select(outbox.c.id, outbox.c.provider_message_id)
        if outbox_id is not None:
            q = q.where(outbox.c.id == outbox_id)
        elif provider_message_id:
            q = q.where(outbox.c.provider_message_id == provider_message_id)
        else:
            return 0
        ids = c.execute(q).all()
        _insert_receipts(c, [{"outbox_id": i, "status": status, "at": at,
                              "provider_message_id": p, "detail": detail or {}} for i, p in ids])
        if status == "read" and ids:
            c.execute(update(outbox).where(outbox.c.id.in_([i for i, _ in ids]),
                                           outbox.c.read_at.is_(None)).values(read_at=at))
    return len(ids)


def _tally(receipts: list[dict]) -> dict[str, int]:
    """How many of ``receipts`` have each status."""
    counts: dict[str, int] = {}
    for x in receipts:
        counts[x["status"]] = counts.get(x["status"], 0) + 1
    return counts


def _awaiting(ws, channels: tuple[str, ...], since: datetime, *extra) -> list:
    """Rows of ``channels`` sent since ``since`` with a provider id and no final receipt yet
    (``id``, the ``extra`` columns, ``guide_id``, ``provider_message_id``)."""
    done = select(channel_receipts.c.outbox_id).where(
        channel_receipts.c.status.in_(("delivered", "failed")))
    with ws.ops.engine.connect() as c:
        return c.execute(select(outbox.c.id, *extra, outbox.c.guide_id,
                                outbox.c.provider_message_id).where(and_(
                                    outbox.c.channel.in_(channels),
                                    outbox.c.status == "sent",
                                    outbox.c.provider_message_id.is_not(None),
                                    outbox.c.sent_at >= since,
                                    outbox.c.id.not_in(done)))).all()


def poll_wecom(ws, *, now: datetime | None = None, max_age_days: int = 3,
               http: httpx.Client | None = None) -> dict[str, int]:
    """Ask WeCom what became of recent mass-send messages; returns receipt counts."""
    from siyu.channels.base import ChannelError
    from siyu.channels.wecom.client import WeComClient

    now = utc(now) or datetime.now(UTC)
    todo = _awaiting(ws, ("wecom", "wecom_group"), now - timedelta(days=max_age_days),
                     outbox.c.recipient)
    if not todo:
        return {}
    groups: dict[tuple[str, str], list] = {}
    for r in todo:
        groups.setdefault((r.provider_message_id, r.guide_id or ""), []).append(r)
    own = http is None
    http = http or httpx.Client(timeout=ws.settings.channel_timeout_seconds)
    new: list[dict] = []
    try:
        client = WeComClient(ws, http)
        for (msgid, guide), rs in groups.items():
            try:
                result = {(x.get("external_userid") or x.get("chat_id")): x
                          for x in client.results_of(msgid, guide or None)}
            except ChannelError as e:
                log.warning("receipts: wecom send_result failed (%s)", type(e).__name__)
                continue
            for r in rs:
                x = result.get(r.recipient)
                st = None if x is None else int(x.get("status", 0))
                if st == 1:
                    at = datetime.fromtimestamp(int(x.get("send_time") or now.timestamp()), UTC)
                    new.append({"outbox_id": r.id, "status": "delivered", "at": at,
                                "provider_message_id": msgid, "detail": {"wecom_status": 1}})
                elif st in (2, 3):
                    new.append({"outbox_id": r.id, "status": "failed", "at": now,
                                "provider_message_id": msgid, "detail": {"wecom_status": st}})
        if new:
            with ws.ops.engine.begin() as c:
                _insert_receipts(c, new)
    finally:
        if own:
            http.close()
    return _tally(new)


def poll_wecom_moments(ws, *, now: datetime | None = None, max_age_days: int = 3,
                       http: httpx.Client | None = None) -> dict[str, int]:
    """What became of recent customer-moments tasks (``wecom_moments`` rows, provider id =
    the ``jobid`` of ``add_moment_task``): ``get_moment_task_result`` gives the task's
    ``moment_id`` once WeCom created it (status 3), or its error; ``get_moment_task`` then says
    whether the row's guide published it. Published → ``delivered``; the task failed
    (result errcode ≠ 0) or the guide is an invalid sender → ``failed``; otherwise asked again
    at the next poll (for ``max_age_days``)."""
    from siyu.channels.base import ChannelError
    from siyu.channels.wecom.client import WeComClient

    now = utc(now) or datetime.now(UTC)
    todo = _awaiting(ws, ("wecom_moments",), now - timedelta(days=max_age_days))
    if not todo:
        return {}
    own = http is None
    http = http or httpx.Client(timeout=ws.settings.channel_timeout_seconds)
    new: list[dict] = []
    try:
        client = WeComClient(ws, http)
        for r in todo:
            try:
                job = client.moment_task_result(r.provider_message_id)
                if int(job.get("status") or 0) != 3:
                    continue  # WeCom is still creating the task
                res = job.get("result") or {}
                code = int(res.get("errcode") or 0)
                invalid = set((res.get("invalid_sender_list") or {}).get("user_list") or [])
                mid = res.get("moment_id")
                if code or (r.guide_id and r.guide_id in invalid) or not mid:
                    new.append({"outbox_id": r.id, "status": "failed", "at": now,
                                "provider_message_id": r.provider_message_id,
                                "detail": {"wecom_errcode": code} if code else
                                {"wecom_status": "invalid_sender" if mid else "no_moment_id"}})
                    continue
                if not r.guide_id:
                    continue  # visible to every guide's customers: nothing per guide to ask
                for t in client.moment_task(mid):
                    if t.get("userid") == r.guide_id and int(t.get("publish_status") or 0) == 1:
                        new.append({"outbox_id": r.id, "status": "delivered", "at": now,
                                    "provider_message_id": r.provider_message_id,
                                    "detail": {"moment_id": str(mid)[:64]}})
                        break
            except ChannelError as e:
                log.warning("receipts: wecom moments poll failed (%s)", type(e).__name__)
                continue
        if new:
            with ws.ops.engine.begin() as c:
                _insert_receipts(c, new)
    finally:
        if own:
            http.close()
    return _tally(new)


def record_provider_receipts(ws, channel: str, reports: list[dict]) -> dict[str, int]:
    """Record receipts reported by a provider for messages of ``channel``.

    Each report: ``{"status", "provider_message_id", "idempotency_key"?, "at"?, "detail"?}``;
    it applies to the row of this channel with that provider message id, else (when given) the
    row with that idempotency key. Returns the counts of new receipts per status, plus
    ``unmatched`` for reports of no known message (a receipt already recorded counts as
    nothing new)."""
    if not reports:
        return {}
    pids = {r["provider_message_id"] for r in reports if r.get("provider_message_id")}
    keys = {r["idempotency_key"] for r in reports if r.get("idempotency_key")}
    counts: dict[str, int] = {}
    with ws.ops.engine.begin() as c:
        by_pid: dict[str, list[int]] = {}
        by_key: dict[str, tuple[int, str | None]] = {}
        if pids:
            for i, p in c.execute(select(outbox.c.id, outbox.c.provider_message_id).where(
                    outbox.c.channel == channel, outbox.c.provider_message_id.in_(pids))):
                by_pid.setdefault(p, []).append(i)
        if keys:
            for i, k, p in c.execute(select(outbox.c.id, outbox.c.idempotency_key,
                                            outbox.c.provider_message_id).where(
                    outbox.c.channel == channel, outbox.c.idempotency_key.in_(keys))):
                by_key[k] = (i, p)
        new: list[dict] = []
        for r in reports:
            pid = r.get("provider_message_id") or None
            ids = by_pid.get(pid, []) if pid else []
            if not ids and r.get("idempotency_key") in by_key:
                i, p = by_key[r["idempotency_key"]]
                ids, pid = [i], pid or p
            if not ids:
                counts["unmatched"] = counts.get("unmatched", 0) + 1
                continue
            new.extend({"outbox_id": i, "status": r["status"], "at": utc(r.get("at")) or
                        datetime.now(UTC), "provider_message_id": pid,
                        "detail": r.get("detail") or {}} for i in ids)
        if new:
            have = {(x.outbox_id, x.status) for x in c.execute(
                select(channel_receipts.c.outbox_id, channel_receipts.c.status).where(
                    channel_receipts.c.outbox_id.in_({x["outbox_id"] for x in new})))}
            fresh, seen = [], set(have)
            for x in new:
                if (x["outbox_id"], x["status"]) not in seen:
                    seen.add((x["outbox_id"], x["status"]))
                    fresh.append(x)
                    counts[x["status"]] = counts.get(x["status"], 0) + 1
            if fresh:
                c.execute(insert(channel_receipts), fresh)
                for x in fresh:
                    if x["status"] == "read":
                        c.execute(update(outbox).where(outbox.c.id == x["outbox_id"],
                                                       outbox.c.read_at.is_(None))
                                  .values(read_at=x["at"]))
    return counts


def poll_sms(ws, *, http: httpx.Client | None = None, max_pulls: int = 50) -> dict[str, int]:
    """Pull the SMS provider's delivery reports until its queue is empty (at most
    ``max_pulls`` calls of 100); returns receipt counts (``unmatched``: reports of no known
    message, dropped — the provider hands each report out once)."""
    from siyu.channels.base import ChannelError
    from siyu.channels.sms import PROVIDERS

    own = http is None
    http = http or httpx.Client(timeout=ws.settings.channel_timeout_seconds)
    counts: dict[str, int] = {}
    try:
        provider = PROVIDERS[ws.settings.sms_provider](ws.settings, http)
        for _ in range(max_pulls):
            try:
                got = provider.pull_status(100)
            except ChannelError as e:
                log.warning("receipts: sms status pull failed (%s)", type(e).__name__)
                break
            new = record_provider_receipts(ws, "sms", [
                {"status": "delivered" if x.delivered else "failed",
                 "provider_message_id": x.serial_no, "idempotency_key": x.context,
                 "at": x.at, "detail": {"sms_status": x.description}} for x in got])
            for k, v in new.items():
                counts[k] = counts.get(k, 0) + v
            if len(got) < 100:
                break
    finally:
        if own:
            http.close()
    if counts.get("unmatched"):
        log.info("receipts: %d sms reports of unknown messages", counts["unmatched"])
    return counts


POLLERS: dict[str, tuple] = {
    "wecom": (lambda s: bool(s.wecom_corp_id), poll_wecom),
    "wecom_moments": (lambda s: bool(s.wecom_corp_id), poll_wecom_moments),
    "sms": (lambda s: bool(s.sms_secret_id.get_secret_value() and s.sms_sdk_app_id), poll_sms),
}
"""channel → (is it configured?(settings), poller(ws, http=…) → receipt counts)."""


def poll_receipts(ws, *, http: httpx.Client | None = None) -> dict[str, dict[str, int]]:
    """Run every configured poller; receipt counts per channel (only non-empty ones)."""
    out = {}
    for name, (configured, poll) in POLLERS.items():
        if configured(ws.settings):
            got = poll(ws, http=http)
            if got:
                out[name] = got
    return out


def receipts_after(ws, after_id: int | None) -> tuple[int, list[dict]]:
    """(the last receipt id, the receipts after ``after_id`` with their message's channel);
    ``after_id`` None: only the last id. No recipients, no text."""
    from sqlalchemy import func

    with ws.ops.engine.connect() as c:
        last = c.execute(select(func.max(channel_receipts.c.id))).scalar() or 0
        if after_id is None:
            return last, []
        got = c.execute(select(channel_receipts.c.id, channel_receipts.c.outbox_id,
                               outbox.c.channel, channel_receipts.c.status,
                               channel_receipts.c.at, channel_receipts.c.detail)
                        .join(outbox, outbox.c.id == channel_receipts.c.outbox_id)
                        .where(channel_receipts.c.id > after_id, channel_receipts.c.id <= last)
                        .order_by(channel_receipts.c.id)).all()
    return last, [{"outbox_id": r.outbox_id, "channel": r.channel, "status": r.status,
                   "at": utc(r.at).isoformat(), "detail": r.detail or {}} for r in got]
