"""HQ task rules (总部策略输出, seed 002 §2.1.5): YAML rules that make guide tasks.

Each rule selects consumers on a brand-local day — "a paid order 15 days ago", "birthday in 3
days", "coupon expiring in 3 days", "no activity for 30 days" — optionally narrowed by an
audience expression (docs/audiences.md), and makes one task per consumer and occasion through
:func:`siyu.activation.tasks.create_task` (idempotency key ``rule:<name>:<consumer>:<date>``, so
running the same day twice adds nothing). Format and the shipped rules: docs/tasks.md.

The ``when`` kinds are small classes in :data:`WHEN` (register more with :func:`register`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import ibis
import yaml

from siyu.errors import UsageError
from siyu.i18n import tr

__all__ = ["Rule", "RulesInvalid", "WHEN", "register", "load_rules", "parse_rules",
           "DEFAULT_RULES", "generate"]

DEFAULT_RULES = Path(__file__).parent / "task_rules.yaml"
"""The rules shipped with siyu (used when the workspace has no ``task_rules.yaml``)."""
WORKSPACE_RULES = "task_rules.yaml"
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_KIND = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
RULE_KEYS = {"name", "title", "kind", "when", "script", "due_days", "audience", "enabled"}


class RulesInvalid(UsageError):
    """A rules file that cannot be used; the message names each problem's line and reason."""


# -- the `when` kinds ---------------------------------------------------------------------------

def _midnight(day: date, zone) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


def _ts(t: datetime):
    return ibis.literal(t, "timestamp('UTC')")


class When:
    """A way of selecting consumers on a day: ``select`` returns ``(consumer_id, on)`` where
    ``on`` is the occasion's date (ISO text) that makes the task unique."""

    type: ClassVar[str]
    keys: ClassVar[dict[str, tuple[int, int]]] = {}
    """Integer keys and their allowed range."""
    required: ClassVar[tuple[str, ...]] = ()

    def __init__(self, spec: dict[str, Any]):
        self.spec = spec

    def select(self, src, day: date, zone) -> ibis.Table:  # pragma: no cover - abstract
        raise NotImplementedError


WHEN: dict[str, type[When]] = {}


def register(cls: type[When]) -> type[When]:
    WHEN[cls.type] = cls
    return cls


@register
class Purchase(When):
    """A paid order on the local day ``days_after`` days before (one task per purchase day)."""

    type = "purchase"
    keys = {"days_after": (0, 3650)}
    required = ("days_after",)

    def select(self, src, day, zone):
        on = day - timedelta(days=self.spec["days_after"])
        o = src.paid_orders
        o = o.filter(o.paid_at >= _ts(_midnight(on, zone)),
                     o.paid_at < _ts(_midnight(on + timedelta(days=1), zone)))
        return o.select("consumer_id", on=ibis.literal(on.isoformat())).distinct()


def _attributes(src) -> ibis.Table:
    c = src.with_consumer("consumers")
    w = ibis.window(group_by=c.consumer_id, order_by=[ibis.desc(c._load_id), ibis.desc(c._line)])
    c = c.mutate(rn=ibis.row_number().over(w))
    return c.filter(c.rn == 0)


@register
class DateAttribute(When):
    """A date ``days_before`` days ahead: the ``birthday`` (month and day; 29 February counts on
    28 February in other years) or a ``coupon_expiry`` (a coupon issued or claimed with
    ``attrs.expires_at`` on that local day, and not redeemed or expired)."""

    type = "date"
    keys = {"days_before": (0, 366)}
    required = ("attribute", "days_before")
    attributes = ("birthday", "coupon_expiry")

    def select(self, src, day, zone):
        target = day + timedelta(days=self.spec["days_before"])
        lit = ibis.literal(target.isoformat())
        if self.spec["attribute"] == "birthday":
            a = _attributes(src)
            a = a.filter(a.birthday.notnull())
            m, d = a.birthday.month(), a.birthday.day()
            hit = (m == target.month) & (d == target.day)
            if target.month == 2 and target.day == 28 and not _leap(target.year):
                hit = hit | ((m == 2) & (d == 29))
            return a.filter(hit).select("consumer_id", on=lit).distinct()
        c = src.with_consumer("coupons")
        exp = c.attrs.cast("json")["expires_at"].str.cast("timestamp('UTC')")
        live = c.filter(c.action.isin(["issued", "claimed"])).mutate(exp=exp)
        live = live.filter(live.exp >= _ts(_midnight(target, zone)),
                           live.exp < _ts(_midnight(target + timedelta(days=1), zone)))
        used = c.filter(c.action.isin(["redeemed", "expired"])).select("coupon_id")
        live = live.filter(~live.coupon_id.isin(used.coupon_id))
        return live.select("consumer_id", on=lit).distinct()


def _leap(y: int) -> bool:
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)


@register
class Inactivity(When):
    """The consumer's last activity (a visit-type interaction, DOMAIN §2, or a paid order) was
    on the local day exactly ``days`` days before."""

    type = "inactivity"
    keys = {"days": (1, 3650)}
    required = ("days",)

    def select(self, src, day, zone):
        on = day - timedelta(days=self.spec["days"])
        end = _ts(_midnight(day, zone))
        i = src.interactions
        i = i.filter(i.type != "message_sent", i.occurred_at < end).select(
            "consumer_id", at=i.occurred_at)
        o = src.paid_orders
        o = o.filter(o.paid_at < end).select("consumer_id", at=o.paid_at)
        last = i.union(o).group_by("consumer_id").aggregate(last=lambda t: t.at.max())
        last = last.filter(last.last >= _ts(_midnight(on, zone)),
                           last.last < _ts(_midnight(on + timedelta(days=1), zone)))
        return last.select("consumer_id", on=ibis.literal(on.isoformat()))


# -- rules --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rule:
    name: str
    title: str
    kind: str
    when: dict[str, Any]
    script: str | None = None
    due_days: int | None = None
    audience: str | None = None
    enabled: bool = True
    line: int | None = field(default=None, compare=False)

    def selector(self) -> When:
        return WHEN[self.when["type"]](self.when)


def _lines(text: str) -> list[int | None]:
    """The line of each item of the ``rules`` list (1-based), for messages."""
    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return []
    if not isinstance(root, yaml.MappingNode):
        return []
    for k, v in root.value:
        if k.value == "rules" and isinstance(v, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in v.value]
    return []


def parse_rules(text: str, source: str = "") -> list[Rule]:
    """The rules of a YAML text; every problem is reported at once with its line."""
    where = f" {source}" if source else ""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f"line {mark.line + 1}: " if mark else ""
        raise RulesInvalid(tr("任务规则文件{w}无法解析：{l}{e}", "task rules{w}: cannot parse: "
                              "{l}{e}", w=where, l=line,
                              e=getattr(e, "problem", None) or e)) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("rules"), list):
        raise RulesInvalid(tr("任务规则文件{w}应有 rules: 列表", "task rules{w}: expected a "
                              "top-level `rules:` list", w=where))
    lines = _lines(text)
    problems: list[str] = []
    rules: list[Rule] = []
    seen: set[str] = set()
    for i, item in enumerate(doc["rules"]):
        line = lines[i] if i < len(lines) else None
        at = f"line {line}: rule {i + 1}" if line else f"rule {i + 1}"
        bad = _check(item, seen)
        if bad:
            problems += [f"{at}: {b}" for b in bad]
            continue
        rules.append(Rule(name=item["name"], title=item["title"], kind=item["kind"],
                          when=dict(item["when"]), script=item.get("script"),
                          due_days=item.get("due_days"), audience=item.get("audience"),
                          enabled=item.get("enabled", True), line=line))
    if problems:
        raise RulesInvalid(tr("任务规则有误{w}：", "invalid task rules{w}: ", w=where)
                           + "; ".join(problems))
    return rules


def _check(item: Any, seen: set[str]) -> list[str]:
    if not isinstance(item, dict):
        return ["expected a mapping"]
    out = [f"unknown key {k!r}" for k in item if k not in RULE_KEYS]
    for k in ("name", "title", "kind", "when"):
        if k not in item:
            out.append(f"missing {k!r}")
    name = item.get("name")
    if "name" in item:
        if not isinstance(name, str) or not _NAME.match(name):
            out.append(f"name {name!r}: expected [a-z][a-z0-9_]*")
        elif name in seen:
            out.append(f"name {name!r} used twice")
        else:
            seen.add(name)
    if "title" in item and (not isinstance(item["title"], str) or not item["title"].strip()):
        out.append("title: expected text")
    if "kind" in item and (not isinstance(item["kind"], str) or not _KIND.match(item["kind"])):
        out.append(f"kind {item['kind']!r}: expected [a-z][a-z0-9_]* (e.g. invite, care)")
    if "script" in item and not isinstance(item["script"], str):
        out.append("script: expected text")
    if "enabled" in item and not isinstance(item["enabled"], bool):
        out.append("enabled: expected true or false")
    d = item.get("due_days")
    if "due_days" in item and (not isinstance(d, int) or isinstance(d, bool) or not 0 <= d <= 365):
        out.append(f"due_days {d!r}: expected a whole number 0–365")
    if "audience" in item:
        out += _check_audience(item["audience"])
    if "when" in item:
        out += _check_when(item["when"])
    return out


def _check_audience(expr: Any) -> list[str]:
    from siyu.audience.parse import parse
    from siyu.errors import SiyuError

    if not isinstance(expr, str):
        return ["audience: expected an audience expression (text)"]
    try:
        parse(expr)
    except SiyuError as e:  # the parser's message names the position
        return [f"audience: {e}"]
    return []


def _check_when(w: Any) -> list[str]:
    if not isinstance(w, dict) or "type" not in w:
        return ["when: expected a mapping with a `type` (" + ", ".join(WHEN) + ")"]
    cls = WHEN.get(w["type"])
    if cls is None:
        return [f"when.type {w['type']!r}: expected one of {', '.join(WHEN)}"]
    allowed = {"type", *cls.required, *cls.keys}
    out = [f"when: unknown key {k!r} for type {w['type']}" for k in w if k not in allowed]
    out += [f"when: missing {k!r}" for k in cls.required if k not in w]
    for k, (lo, hi) in cls.keys.items():
        v = w.get(k)
        if k in w and (not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi):
            out.append(f"when.{k} {v!r}: expected a whole number {lo}–{hi}")
    if cls is DateAttribute and "attribute" in w and w["attribute"] not in cls.attributes:
        out.append(f"when.attribute {w['attribute']!r}: expected one of "
                   f"{', '.join(cls.attributes)}")
    return out


def load_rules(path: Path | str | None = None, home: Path | None = None) -> tuple[list[Rule], Path]:
    """The rules of ``path``; default the workspace's ``task_rules.yaml``, else the shipped
    rules."""
    if path is None:
        p = Path(home) / WORKSPACE_RULES if home is not None else None
        path = p if p is not None and p.exists() else DEFAULT_RULES
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise UsageError(tr("无法读取任务规则 {p}：{e}", "cannot read task rules {p}: {e}",
                            p=path, e=e.strerror or e)) from None
    return parse_rules(text, str(path)), path


# -- generation ---------------------------------------------------------------------------------

_FIELD = re.compile(r"\{([a-z_]+)(?:\|([^{}]*))?\}")


def render(script: str | None, fields: dict[str, Any]) -> str | None:
    """``{field}`` and ``{field|fallback}`` replaced (the journey templates' syntax); an
    unknown or empty field gives its fallback, else the empty string.

    >>> render("{name|亲}，生日快乐！{x}", {"name": ""})
    '亲，生日快乐！'
    """
    if script is None:
        return None
    return _FIELD.sub(lambda m: str(fields.get(m.group(1)) or m.group(2) or ""), script)


def generate(ws, rules: list[Rule], day: date, *, now: datetime | None = None,
             progress=None) -> dict[str, Any]:
    """Run ``rules`` for brand-local ``day``: refresh assignments, expire stale tasks, then
    create each rule's tasks (one transaction per rule). Returns ``{"day", "expired",
    "rules": [{"rule", "selected", "created", "existing"}]}``."""
    from siyu.activation.assignment import refresh
    from siyu.activation.tasks import create_task, expire, task_id_for
    from siyu.models.sources import Sources
    from siyu.ops.tables import guide_tasks

    s = ws.settings
    zone = s.zone
    now = now or datetime.now(UTC)
    refresh(ws, now)
    with ws.ops.engine.begin() as conn:
        expired = expire(conn, now, s.task_expire_days)
    src = Sources.of(ws)
    names = _attributes(src).select("consumer_id", "name")
    report = []
    for rule in rules:
        if not rule.enabled:
            continue
        sel = rule.selector().select(src, day, zone)
        sel = sel.left_join(names, "consumer_id").drop("consumer_id_right")
        rows = sorted(sel.to_pyarrow().to_pylist(), key=lambda r: (r["on"], r["consumer_id"]))
        if rule.audience:
            from siyu.audience import members

            keep = set(members(ws, rule.audience, day))
            rows = [r for r in rows if r["consumer_id"] in keep]
        due_days = s.task_due_days if rule.due_days is None else rule.due_days
        due = _midnight(day + timedelta(days=due_days), zone)
        created = existing = 0
        with ws.ops.engine.begin() as conn:
            for n, r in enumerate(rows, 1):
                key = f"rule:{rule.name}:{r['consumer_id']}:{r['on']}"
                before = conn.execute(guide_tasks.select().with_only_columns(
                    guide_tasks.c.task_id).where(guide_tasks.c.task_id == task_id_for(key))
                ).first()
                fields = {"name": r.get("name") or "", "date": r["on"],
                          "brand": s.brand_name}
                create_task(conn, consumer_id=r["consumer_id"], kind=rule.kind,
                            title=rule.title, script=render(rule.script, fields), due_at=due,
                            source=f"rule:{rule.name}", idempotency_key=key, settings=s,
                            now=now)
                existing += before is not None
                created += before is None
                if progress:
                    progress(rule.name, n, len(rows))
        report.append({"rule": rule.name, "selected": len(rows), "created": created,
                       "existing": existing})
    return {"day": day.isoformat(), "expired": expired, "rules": report}
