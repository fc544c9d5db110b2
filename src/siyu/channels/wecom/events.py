"""Decrypted WeCom callback events → canonical rows, loaded by the importer.

An accepted callback is first stored in the operational store (``channel_inbound``; a
redelivered event — same identifying fields — is stored once), so the HTTP answer is quick and
nothing is lost if the warehouse is busy. :func:`flush_inbound` then turns pending events into
rows of the canonical tables (DOMAIN.md §2) and loads them with :func:`siyu.ingest.import_files`
— the same validation, rejects and idempotency (by ``event_id``) as a file import — from where
the journey triggers see them like any imported relationship.

| callback (Event / ChangeType) | canonical rows |
|---|---|
| change_external_contact / add_external_contact | relationships: `wecom:<ExternalUserID>`, field `guide`, `start`, field_ref = UserID (the guide), source = State or `wecom`; with a WelcomeCode, the welcome row of the matching rule is queued in the same transaction (:mod:`.welcome`) |
| … / del_external_contact (the guide deleted the customer) | relationships `end`, source `guide_deleted` |
| … / del_follow_user (the customer deleted the guide) | relationships `end`, source `customer_deleted` |
| … / edit_external_contact, add_half_external_contact, transfer_fail | none (kept as `ignored`: no relationship starts or ends; a half add with a WelcomeCode still queues its welcome) |
| change_external_chat / create | touchpoints: field_ref = ChatId, field `group_chat` |
| … / update, UpdateDetail add_member / del_member | relationships `start` / `end` in `group_chat` for each external member of MemChangeList (ids `wm…`/`wo…`; staff ids are skipped); source = JoinScene / QuitScene |
| … / dismiss | relationships `end` for every member active in that group (warehouse + this batch) |
"""

from __future__ import annotations

import hashlib
import json
import logging
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from siyu.channels.base import ChannelError
from siyu.channels.wecom.welcome import ADD_CHANGES, already_welcomed, load_rules, welcome_row
from siyu.ops.tables import callback_nonces, channel_inbound

__all__ = ["parse_event", "event_key", "store_event", "flush_inbound", "FlushResult",
           "MalformedEvent", "Replay"]

log = logging.getLogger("siyu.channels.wecom")

MAX_XML = 64 * 1024
LIST_FIELDS = {"MemChangeList"}
KEY_FIELDS = ("Event", "ChangeType", "UserID", "ExternalUserID", "ChatId", "CreateTime",
              "UpdateDetail", "MemChangeList", "Source", "FailReason")
EXTERNAL_PREFIXES = ("wm", "wo")


class MalformedEvent(ChannelError):
    pass


def parse_xml(text: str) -> ET.Element:
    if len(text) > MAX_XML:
        raise MalformedEvent("body too large")
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise MalformedEvent("DTDs are not accepted")
    try:
        return ET.fromstring(text)
    except ET.ParseError:
        raise MalformedEvent("not well-formed XML") from None


def parse_event(text: str) -> dict[str, Any]:
    """The fields of a decrypted event (children of <xml>; MemChangeList as a list)."""
    root = parse_xml(text)
    out: dict[str, Any] = {}
    for child in root:
        if child.tag in LIST_FIELDS:
            out[child.tag] = [(i.text or "").strip() for i in child if (i.text or "").strip()]
        else:
            out[child.tag] = (child.text or "").strip()
    if not out.get("Event") or not out.get("CreateTime", "").isdigit():
        raise MalformedEvent("Event or CreateTime missing")
    return out


def event_key(f: dict[str, Any]) -> str:
    ident = {k: f.get(k) for k in KEY_FIELDS if f.get(k) not in (None, "", [])}
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:40]


class Replay(ChannelError):
    """The callback's timestamp + nonce pair was accepted before."""


def store_event(ws, f: dict[str, Any], *, received_at: datetime | None = None,
                nonce: tuple[str, str, str] | None = None) -> tuple[int, bool]:
    """Keep an accepted event; returns (inbound id, newly stored).

    ``nonce`` = (source, timestamp, nonce) of the callback: recorded in the same transaction
    as the event (a pair seen before raises :class:`Replay`), so a failure between the two can
    never leave the nonce spent and the event lost — WeCom's retry of it is then accepted."""
    key = event_key(f)
    fields = {k: v for k, v in f.items() if k not in ("WelcomeCode", "ToUserName")}
    welcome = load_rules(ws) if f.get("WelcomeCode") and f.get("ChangeType") in ADD_CHANGES \
        else None
    now = datetime.now(UTC)
    row = {"source": "wecom", "event_key": key, "event": f["Event"][:64],
           "change_type": (f.get("ChangeType") or "")[:64] or None,
           "occurred_at": datetime.fromtimestamp(int(f["CreateTime"]), UTC),
           "received_at": received_at or now, "fields": fields,
           "welcome_code": f.get("WelcomeCode") or None, "status": "pending"}
    try:
        with ws.ops.engine.begin() as c:
            if nonce is not None:
                try:
                    c.execute(insert(callback_nonces).values(
                        source=nonce[0], timestamp=nonce[1], nonce=nonce[2], received_at=now))
                except IntegrityError:
                    raise Replay("timestamp and nonce seen before") from None
            have = c.execute(select(channel_inbound.c.id).where(
                channel_inbound.c.event_key == key)).scalar()
            if have is not None:  # redelivered (WeCom retries): stored once
                return have, False
            got = c.execute(insert(channel_inbound).values(**row))
            iid = got.inserted_primary_key[0]
            if welcome is not None:
                _queue_welcome(ws, c, f, key, iid, welcome, now)
            return iid, True
    except IntegrityError:  # the same event stored at the same moment by another request?
        with ws.ops.engine.connect() as c:
            have = c.execute(select(channel_inbound.c.id).where(
                channel_inbound.c.event_key == key)).scalar()
        if have is None:
            raise  # no: the store itself failed
        return have, False


def _queue_welcome(ws, conn, f: dict[str, Any], key: str, inbound_id: int, rules,
                   now: datetime) -> None:
    """The welcome row of an add-contact event, in the transaction that stores the event."""
    from siyu.channels.outbox import enqueue

    row = welcome_row(ws, f, key, inbound_id, rules)
    if row is None:
        return
    if already_welcomed(conn, f, inbound_id, now):
        log.debug("welcome: already queued for this guide and customer today; not again")
        return
    enqueue(ws, [row], now=now, conn=conn)


@dataclass
class FlushResult:
    events: int = 0
    imported: int = 0
    ignored: int = 0
    failed: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    loaded: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict:
        return {"events": self.events, "imported": self.imported, "ignored": self.ignored,
                "failed": self.failed, "rows": self.rows, "loaded": self.loaded,
                "rejected": self.rejected}


def _ts(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S+00:00")


def _rel(eid: str, key: str, fld: str, action: str, at: datetime, ref: str | None,
         source: str) -> dict[str, Any]:
    return {"event_id": eid, "consumer_key": key, "field": fld, "action": action,
            "occurred_at": _ts(at), "field_ref": ref or None, "source": source}


def _active_members(ws, chat_id: str) -> set[str]:
    con = ws.warehouse.raw
    try:
        rows = con.execute(
            "SELECT consumer_key FROM (SELECT consumer_key, arg_max(action, occurred_at) AS a "
            "FROM relationships WHERE field = 'group_chat' AND field_ref = ? GROUP BY 1) "
            "WHERE a = 'start'", [chat_id]).fetchall()
    except Exception:  # no relationships table yet
        return set()
    return {r[0] for r in rows}


def rows_for(ws, events: list[Any]) -> tuple[dict[str, list[dict]], dict[int, str]]:
    """Canonical rows of pending events (in id order) and {inbound id: status}."""
    out: dict[str, list[dict]] = {"touchpoints": [], "relationships": []}
    status: dict[int, str] = {}
    members: dict[str, set[str]] = {}  # chat → active external members, this batch included
    for ev in events:
        f, at, key = ev.fields, ev.occurred_at, ev.event_key
        at = at if at.tzinfo else at.replace(tzinfo=UTC)
        eid = f"wecom:{key[:32]}"
        ct = ev.change_type or ""
        n0 = sum(len(v) for v in out.values())
        if ev.event == "change_external_contact":
            ext, guide = f.get("ExternalUserID"), f.get("UserID")
            if ext and ct == "add_external_contact":
                out["relationships"].append(_rel(eid, f"wecom:{ext}", "guide", "start", at, guide,
                                                 f.get("State") or "wecom"))
            elif ext and ct in ("del_external_contact", "del_follow_user"):
                src = "guide_deleted" if ct == "del_external_contact" else "customer_deleted"
                out["relationships"].append(_rel(eid, f"wecom:{ext}", "guide", "end", at, guide,
                                                 src))
        elif ev.event == "change_external_chat" and f.get("ChatId"):
            chat = f["ChatId"]
            if chat not in members:
                members[chat] = _active_members(ws, chat)
            if ct == "create":
                out["touchpoints"].append({"field_ref": chat, "field": "group_chat",
                                           "guide_id": None, "name": None, "store_id": None,
                                           "group_type": None})
            elif ct == "update" and f.get("UpdateDetail") in ("add_member", "del_member"):
                start = f["UpdateDetail"] == "add_member"
                src = f.get("JoinScene" if start else "QuitScene") or "wecom"
                src = {"0": "invited", "1": "invited", "3": "qr_code"}.get(src, src) \
                    if start else src
                for i, m in enumerate(f.get("MemChangeList") or []):
                    if not m.startswith(EXTERNAL_PREFIXES):
                        continue
                    k = f"wecom:{m}"
                    out["relationships"].append(_rel(f"{eid}:{i}", k, "group_chat",
                                                     "start" if start else "end", at, chat,
                                                     src if start else "left"))
                    (members[chat].add if start else members[chat].discard)(k)
            elif ct == "dismiss":
                for i, k in enumerate(sorted(members[chat])):
                    out["relationships"].append(_rel(f"{eid}:{i}", k, "group_chat", "end", at,
                                                     chat, "dismissed"))
                members[chat] = set()
        status[ev.id] = "imported" if sum(len(v) for v in out.values()) > n0 else "ignored"
    return out, status


def flush_inbound(ws, limit: int = 10_000) -> FlushResult:
    """Load pending callback events into the warehouse (needs the warehouse: run inside the
    process that owns it, e.g. `siyu serve`, or with `siyu channels flush`)."""
    from siyu.ingest import import_files

    res = FlushResult()
    with ws.ops.engine.connect() as c:
        events = c.execute(select(channel_inbound).where(channel_inbound.c.status == "pending")
                           .order_by(channel_inbound.c.id).limit(limit)).all()
    if not events:
        return res
    res.events = len(events)
    rows, status = rows_for(ws, events)
    load_ids: list[str] = []
    ws.tmp_dir.mkdir(parents=True, exist_ok=True)
    error = None
    for table in ("touchpoints", "relationships"):
        if not rows[table]:
            continue
        res.rows[table] = len(rows[table])
        path = ws.tmp_dir / f"wecom-callbacks-{table}-{events[0].id}-{events[-1].id}.jsonl"
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows[table]),
                        encoding="utf-8")
        try:
            got = import_files(ws, table, [path], fmt="jsonl")
            res.loaded[table] = got.loaded
            res.rejected[table] = got.rejected
            load_ids += [f.load_id for f in got.files]
        except Exception as e:  # the importer could not load at all: retry at the next flush
            error = f"{type(e).__name__}: {str(e)[:300]}"
            log.warning("wecom callbacks: loading %s failed (%s)", table, type(e).__name__)
            break
        finally:
            path.unlink(missing_ok=True)
    with ws.ops.engine.begin() as c:
        for ev in events:
            st = status[ev.id]
            if error is not None and st == "imported":
                c.execute(update(channel_inbound).where(channel_inbound.c.id == ev.id)
                          .values(error=error))
                continue
            c.execute(update(channel_inbound).where(channel_inbound.c.id == ev.id).values(
                status=st, load_id=",".join(load_ids)[:64] if st == "imported" else None))
            if st == "imported":
                res.imported += 1
            else:
                res.ignored += 1
    if error is not None:
        res.failed = sum(1 for s in status.values() if s == "imported")
    log.info("wecom callbacks: %d events, %d imported, %d ignored", res.events, res.imported,
             res.ignored)
    return res
