"""Welcome messages 欢迎语: the brand's rules (``welcome.yaml``) and the outbox row queued
when an add-contact callback carries a WelcomeCode.

WeCom hands a ``WelcomeCode`` in the ``add_external_contact`` / ``add_half_external_contact``
callback when no welcome is configured for the guide in the WeCom admin; the code may be used
once, within 20 s (``send_welcome_msg``). :func:`welcome_row` picks the first rule matching the
callback's ``State`` (渠道活码) and/or the guide's ``UserID`` — else ``default``, else nothing —
and :func:`siyu.channels.wecom.events.store_event` inserts the row in the transaction that
stores the event (idempotency key ``welcome:<event key>``: a redelivered callback never queues
twice). The customer is unknown to siyu at that moment, so a text may use only ``{guide_name}``
and ``{brand}``. Format: docs/channels.md#welcome-messages-欢迎语.
"""

from __future__ import annotations

import logging
import string
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from siyu.errors import UsageError
from siyu.i18n import tr
from siyu.yamlfile import Problem, compose, dotted

__all__ = ["WelcomeRules", "WelcomeRule", "WelcomeInvalid", "parse_rules", "validate_text",
           "load_rules", "welcome_row", "ADD_CHANGES", "PRESSURE_WORDS", "ATTACHMENTS"]

log = logging.getLogger("siyu.channels.wecom")

ADD_CHANGES = ("add_external_contact", "add_half_external_contact")
TOP_KEYS = ("guide_names", "guide_name_default", "rules", "default")
RULE_KEYS = ("name", "state", "guides", "text", "attachments")
PLACEHOLDERS = ("guide_name", "brand")
TEXT_BYTES = 4000
MAX_ATTACHMENTS = 9

# kind → {key: (required, max bytes or 0)} — as send_welcome_msg defines each attachment
ATTACHMENTS: dict[str, dict[str, tuple[bool, int]]] = {
    "image": {"media_id": (False, 0), "pic_url": (False, 2048)},
    "link": {"title": (True, 128), "url": (True, 2048), "picurl": (False, 2048),
             "desc": (False, 512)},
    "miniprogram": {"title": (True, 64), "pic_media_id": (True, 0), "appid": (True, 0),
                    "page": (True, 0)},
    "video": {"media_id": (True, 0)},
    "file": {"media_id": (True, 0)},
}

PRESSURE_WORDS = ("再不买", "就没了", "最后机会", "最后一次机会", "错过就", "错过再等", "仅剩",
                  "手慢无", "马上抢", "立即抢", "赶紧", "赶快", "绝对", "史上最", "全网最",
                  "第一品牌", "100%")
"""Pressure or absolute wording refused in a welcome (DOMAIN §12: "再不买就没了" → "您的专属
福利即将过期，是否查看？")."""


@dataclass(frozen=True)
class WelcomeRule:
    name: str
    states: tuple[str, ...]
    guides: tuple[str, ...]
    text: str
    attachments: tuple[dict[str, Any], ...]

    def matches(self, state: str, guide: str) -> bool:
        return ((not self.states or state in self.states)
                and (not self.guides or guide in self.guides))


@dataclass(frozen=True)
class WelcomeRules:
    rules: tuple[WelcomeRule, ...]
    default: WelcomeRule | None = None
    guide_names: dict[str, str] = field(default_factory=dict)
    guide_name_default: str = "您的专属顾问"

    def match(self, state: str, guide: str) -> WelcomeRule | None:
        """The first rule whose ``state`` and ``guides`` (those it gives) hold, else the
        default, else None."""
        return next((r for r in self.rules if r.matches(state, guide)), self.default)

    def render(self, rule: WelcomeRule, guide: str, brand: str) -> dict[str, Any]:
        """The outbox payload of ``rule`` for a guide."""
        name = self.guide_names.get(guide) or self.guide_name_default
        out: dict[str, Any] = {"kind": "welcome", "rule": rule.name}
        if rule.text:
            out["text"] = rule.text.format(guide_name=name, brand=brand)
        if rule.attachments:
            out["attachments"] = [dict(a) for a in rule.attachments]
        return out


class WelcomeInvalid(UsageError):
    """A welcome file that cannot be used; the message lists every problem with its line."""

    def __init__(self, problems, source: str = ""):
        self.problems = problems
        head = tr("欢迎语规则有误", "invalid welcome rules") + (f" {source}" if source else "")
        super().__init__(head + ": " + "; ".join(str(p) for p in problems))


# -- validation ------------------------------------------------------------------------------

def _bytes(v: str) -> int:
    return len(v.encode("utf-8"))


class _Check:
    def __init__(self, lines):
        self.lines, self.problems, self._p, self._d = lines, [], Problem, dotted

    def __call__(self, path: tuple, reason: str) -> None:
        p = path
        while p and p not in self.lines:
            p = p[:-1]
        self.problems.append(self._p(self.lines.get(p), self._d(path), reason))

    def text(self, v: Any, path: tuple, limit: int, *, required: bool = True,
             template: bool = False) -> None:
        if not isinstance(v, str) or (required and not v.strip()):
            self(path, tr("应为非空文本", "must be non-empty text"))
            return
        if _bytes(v) > limit:
            self(path, tr("最多 {n} 字节（UTF-8），现为 {m}", "at most {n} bytes (UTF-8), "
                          "is {m}", n=limit, m=_bytes(v)))
        for w in PRESSURE_WORDS:
            if w in v:
                self(path, tr("含施压或绝对化用语「{w}」（DOMAIN §12），请改为如「您的专属福利"
                              "即将过期，是否查看？」", "pressure or absolute wording {w!r} "
                              "(DOMAIN §12); write e.g. 「您的专属福利即将过期，是否查看？」",
                              w=w))
        if template:
            try:
                names = [f for _, f, _, _ in string.Formatter().parse(v) if f is not None]
            except ValueError:
                self(path, tr("{ } 不成对（字面的花括号写作 {{ }}）",
                              "unbalanced { } (write literal braces as {{ }})"))
                return
            for f in names:
                if f not in PLACEHOLDERS:
                    self(path, tr("未知占位符 {{{f}}}：可用 {k}（此时客户尚不为 siyu 所知）",
                                  "unknown placeholder {{{f}}}; known: {k} (the customer is "
                                  "not known to siyu yet)", f=f,
                                  k=", ".join("{" + p + "}" for p in PLACEHOLDERS)))

    def names(self, v: Any, path: tuple, what: str) -> tuple[str, ...]:
        items = [v] if isinstance(v, str) else v
        if not isinstance(items, list) or not items or not all(
                isinstance(x, str) and x.strip() and len(x) <= 64 for x in items):
            self(path, tr("{w} 应为文本或非空文本列表（每项最多 64 个字符）",
                          "{w} must be text or a non-empty list of texts (at most 64 "
                          "characters each)", w=what))
            return ()
        return tuple(items)


def _attachment(a: Any, path: tuple, check: _Check) -> dict[str, Any] | None:
    kinds = ", ".join(ATTACHMENTS)
    if isinstance(a, dict) and "msgtype" in a:  # WeCom's own form {msgtype: image, image: …}
        mt = a["msgtype"] if isinstance(a["msgtype"], str) else None
        a = {mt: a.get(mt)} if len(a) == 2 and mt in a else {None: None}
    if not isinstance(a, dict) or len(a) != 1 or next(iter(a)) not in ATTACHMENTS:
        check(path, tr("附件应为只含一个类型键的映射：{k}",
                       "an attachment is a mapping with one kind key: {k}", k=kinds))
        return None
    kind, spec = next(iter(a.items()))
    keys = ATTACHMENTS[kind]
    if not isinstance(spec, dict):
        check(path + (kind,), tr("{k} 应为含 {c} 的映射", "{k} must be a mapping with {c}",
                                 k=kind, c=", ".join(keys)))
        return None
    n0 = len(check.problems)
    for k in spec:
        if k not in keys:
            check(path + (kind, k), tr("未知的键 {k}；可用：{c}", "unknown key {k!r}; known: {c}",
                                       k=k, c=", ".join(keys)))
    for k, (required, limit) in keys.items():
        if k in spec:
            check.text(spec[k], path + (kind, k), limit or 1024)
        elif required:
            check(path + (kind,), tr("缺少必需的键 {k}", "missing required key {k!r}", k=k))
    if kind == "image" and not (spec.get("media_id") or spec.get("pic_url")):
        check(path + (kind,), tr("图片需要 media_id 或 pic_url",
                                 "an image needs media_id or pic_url"))
    if kind == "miniprogram" and isinstance(spec.get("page"), str) and not spec[
            "page"].split("?")[0].endswith(".html"):
        check(path + (kind, "page"), tr("小程序 page 路径须以 .html 结尾（企业微信要求）",
                                        "the mini-program page must end in .html (WeCom)"))
    if kind == "link" and isinstance(spec.get("url"), str) and not spec["url"].startswith(
            ("http://", "https://")):
        check(path + (kind, "url"), tr("url 应为 http:// 或 https:// 地址",
                                       "url must be an http:// or https:// address"))
    if len(check.problems) > n0:
        return None
    return {"msgtype": kind, kind: dict(spec)}


def _rule(r: Any, path: tuple, check: _Check, default: bool = False) -> WelcomeRule | None:
    if not isinstance(r, dict):
        check(path, tr("规则应为映射（name、state 和/或 guides、text、attachments）",
                       "a rule is a mapping (name, state and/or guides, text, attachments)"))
        return None
    n0 = len(check.problems)
    allowed = RULE_KEYS[3:] if default else RULE_KEYS
    for k in r:
        if k not in allowed:
            check(path + (k,), tr("未知的键 {k}；可用：{c}", "unknown key {k!r}; known: {c}",
                                  k=k, c=", ".join(allowed)))
    name = "default"
    states: tuple[str, ...] = ()
    guides: tuple[str, ...] = ()
    if not default:
        name = r.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 64:
            check(path + ("name",), tr("name 应为非空文本（最多 64 个字符）",
                                       "name must be non-empty text (at most 64 characters)"))
        if "state" in r:
            states = check.names(r["state"], path + ("state",), "state")
        if "guides" in r:
            guides = check.names(r["guides"], path + ("guides",), "guides")
        if "state" not in r and "guides" not in r:
            check(path, tr("规则需要 state（渠道活码）或 guides（导购 UserID），不匹配的用 default",
                           "a rule needs state (渠道活码) and/or guides (UserIDs); use default "
                           "for the rest"))
    if "text" in r:
        check.text(r["text"], path + ("text",), TEXT_BYTES, template=True)
    atts: list[dict[str, Any]] = []
    if "attachments" in r:
        a = r["attachments"]
        if not isinstance(a, list) or not a or len(a) > MAX_ATTACHMENTS:
            check(path + ("attachments",), tr("attachments 应为 1 到 {n} 个附件的列表",
                                              "attachments must be a list of 1 to {n}",
                                              n=MAX_ATTACHMENTS))
        else:
            got = [_attachment(x, path + ("attachments", i), check) for i, x in enumerate(a)]
            atts = [x for x in got if x is not None]
    if "text" not in r and "attachments" not in r:
        check(path, tr("需要 text 或 attachments", "needs text or attachments"))
    if len(check.problems) > n0:
        return None
    return WelcomeRule(str(name), states, guides, r.get("text") or "", tuple(atts))


def _check(doc: Any, check: _Check) -> WelcomeRules | None:
    if not isinstance(doc, dict):
        check((), tr("欢迎语文件应为含 rules 和/或 default 的映射",
                     "a welcome file is a mapping with rules and/or default"))
        return None
    for k in doc:
        if k not in TOP_KEYS:
            check((k,), tr("未知的键 {k}；可用：{c}", "unknown key {k!r}; known: {c}", k=k,
                           c=", ".join(TOP_KEYS)))
    if "rules" not in doc and "default" not in doc:
        check((), tr("需要 rules 和/或 default", "needs rules and/or default"))
    rules: list[WelcomeRule] = []
    rs = doc.get("rules", [])
    if not isinstance(rs, list):
        check(("rules",), tr("rules 应为规则列表", "rules must be a list of rules"))
        rs = []
    seen: set[str] = set()
    for i, r in enumerate(rs):
        got = _rule(r, ("rules", i), check)
        if got is not None:
            if got.name in seen:
                check(("rules", i, "name"), tr("规则名 {n} 重复", "rule name {n!r} given twice",
                                               n=got.name))
            seen.add(got.name)
            rules.append(got)
    default = _rule(doc["default"], ("default",), check, default=True) \
        if doc.get("default") is not None else None
    names = doc.get("guide_names", {})
    if not isinstance(names, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and v.strip() and len(v) <= 32
            for k, v in names.items()):
        check(("guide_names",), tr("guide_names 应为 导购 UserID → 称呼（最多 32 个字符）的映射",
                                   "guide_names must map guide UserIDs to display names (at "
                                   "most 32 characters)"))
        names = {}
    for k, v in names.items():
        check.text(v, ("guide_names", k), 96)
    gd = doc.get("guide_name_default", "您的专属顾问")
    check.text(gd, ("guide_name_default",), 96)
    if check.problems:
        return None
    return WelcomeRules(tuple(rules), default, dict(names), gd)


def validate_text(text: str) -> tuple[WelcomeRules | None, list]:
    """(the rules, []) or (None, every problem with its line)."""
    doc, lines, problems = compose(text)
    if problems:
        return None, problems
    check = _Check(lines)
    rules = _check(doc, check)
    return rules, check.problems


def parse_rules(text: str, source: str = "") -> WelcomeRules:
    rules, problems = validate_text(text)
    if problems:
        raise WelcomeInvalid(problems, source)
    return rules


# -- the workspace's rules, cached by file modification ------------------------------------------

_cache: dict[Path, tuple[tuple[int, int], WelcomeRules | None]] = {}
_cache_lock = threading.Lock()


def rules_path(ws) -> Path:
    p = Path(ws.settings.wecom_welcome_file)
    return p if p.is_absolute() else ws.home / p


def load_rules(ws) -> WelcomeRules | None:
    """The workspace's welcome rules; None when the file is missing or invalid (an invalid
    file is logged as a warning with its problem count; `siyu channels welcome validate`
    shows them)."""
    path = rules_path(ws)
    try:
        st = path.stat()
    except OSError:
        return None
    stamp = (st.st_mtime_ns, st.st_size)
    with _cache_lock:
        got = _cache.get(path)
        if got is not None and got[0] == stamp:
            return got[1]
    try:
        rules, problems = validate_text(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        rules, problems = None, [None]
    if problems:
        log.warning("welcome rules %s invalid (%d problems): no welcome messages are queued",
                    path.name, len(problems))
        rules = None
    with _cache_lock:
        _cache[path] = (stamp, rules)
    return rules


def welcome_row(ws, fields: dict[str, Any], event_key: str, inbound_id: int,
                rules: WelcomeRules | None) -> dict[str, Any] | None:
    """The outbox row for an add-contact event with a WelcomeCode, or None (no code, no rule
    matched, no rules file)."""
    if (fields.get("Event") != "change_external_contact"
            or fields.get("ChangeType") not in ADD_CHANGES or not fields.get("WelcomeCode")):
        return None
    ext, guide = fields.get("ExternalUserID") or "", fields.get("UserID") or ""
    if not ext or not guide or rules is None:
        return None
    rule = rules.match(fields.get("State") or "", guide)
    if rule is None:
        log.debug("welcome: no rule matched and no default; nothing queued")
        return None
    payload = rules.render(rule, guide, ws.settings.brand_name)
    payload["inbound_id"] = inbound_id
    return {"idempotency_key": f"welcome:{event_key}", "channel": "wecom", "recipient": ext,
            "guide_id": guide, "purpose": "service", "payload": payload,
            "source": f"welcome:{rule.name}"[:64]}


def already_welcomed(conn, fields: dict[str, Any], inbound_id: int, now) -> bool:
    """Whether a welcome was queued for the same guide and customer in the last day (the
    ``add_half_external_contact`` of a 免验证 add is followed by an ``add_external_contact``
    when the guide confirms: one welcome, not two). Looks at the latest 500 events with a
    WelcomeCode only, so it stays cheap."""
    from datetime import timedelta

    from sqlalchemy import select

    from siyu.ops.tables import channel_inbound, outbox

    ci = channel_inbound.c
    rows = conn.execute(select(ci.event_key, ci.fields).where(
        ci.welcome_code.is_not(None), ci.id != inbound_id,
        ci.received_at >= now - timedelta(days=1)).order_by(ci.id.desc()).limit(500)).all()
    keys = [f"welcome:{r.event_key}" for r in rows
            if r.fields.get("UserID") == fields.get("UserID")
            and r.fields.get("ExternalUserID") == fields.get("ExternalUserID")]
    return bool(keys) and conn.execute(select(outbox.c.id).where(
        outbox.c.idempotency_key.in_(keys)).limit(1)).first() is not None
