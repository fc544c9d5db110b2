"""Journey definitions: YAML → a validated :class:`Journey` (format in docs/journeys.md).

Every problem is reported with the line it stands on and the reason; :func:`validate_text`
returns them all at once, :func:`parse_definition` raises :class:`JourneyInvalid` with them.
The checks of each trigger, step and action kind live with the kind (registries in
:mod:`.triggers`, :mod:`.steps`, :mod:`.actions`).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from siyu.errors import UsageError
from siyu.i18n import tr
from siyu.yamlfile import Problem, read_text
from siyu.yamlfile import compose as _compose
from siyu.yamlfile import dotted as _dotted

__all__ = ["Journey", "Step", "JourneyInvalid", "Problem", "validate_text", "parse_definition",
           "load_definition", "from_dict", "triggers_of", "NAME_RE"]

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
TOP_KEYS = {"name", "title", "description", "trigger", "triggers", "steps", "re_entry",
            "exit_when", "goal"}
RE_ENTRY = ("never", "after_exit", "after_days")


class JourneyInvalid(UsageError):
    """A journey definition that cannot be used; the message lists every problem with its
    line."""

    def __init__(self, problems: list[Problem], source: str = ""):
        self.problems = problems
        head = tr("旅程定义有误", "invalid journey definition") + (f" {source}" if source else "")
        super().__init__(head + ": " + "; ".join(str(p) for p in problems))


@dataclass(frozen=True)
class Step:
    id: str
    kind: str
    spec: Any
    next: str  # a step id or "end"


@dataclass(frozen=True)
class Journey:
    name: str
    title: str
    triggers: tuple[dict[str, Any], ...]
    steps: tuple[Step, ...]
    description: str = ""
    re_entry: dict[str, Any] = field(default_factory=lambda: {"policy": "never"})
    exit_when: tuple[dict[str, Any], ...] = ()
    goal: dict[str, Any] | None = None
    doc: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def trigger(self) -> dict[str, Any]:
        """The first trigger (the only one of most journeys)."""
        return self.triggers[0]

    @property
    def trigger_type(self) -> str:
        """What the ``journeys`` table shows: the trigger types joined by ``+``."""
        return "+".join(t["type"] for t in self.triggers)[:32]

    @property
    def first_step(self) -> str:
        return self.steps[0].id

    def step(self, step_id: str) -> Step:
        return self._index[step_id]

    @property
    def _index(self) -> dict[str, Step]:
        idx = self.__dict__.get("_idx")
        if idx is None:
            idx = {s.id: s for s in self.steps}
            object.__setattr__(self, "_idx", idx)
        return idx

    def checksum(self) -> str:
        return hashlib.sha256(json.dumps(self.doc, sort_keys=True, ensure_ascii=False)
                              .encode()).hexdigest()[:16]


_ZH: tuple[tuple[re.Pattern, str], ...] = tuple((re.compile(a), b) for a, b in (
    (r"^unknown key (.+?); known: (.+)$", r"未知的键 \1；可用：\2"),
    (r"^missing required key (.+)$", r"缺少必需的键 \1"),
    (r"^unknown event (.+?); known: (.+)$", r"未知事件 \1；可用：\2"),
    (r"^unknown step kind (.+?); known: (.+)$", r"未知步骤类型 \1；可用：\2"),
    (r"^unknown trigger type (.+?); known: (.+)$", r"未知触发类型 \1；可用：\2"),
    (r"^unknown template field (.+?); known: (.+)$", r"模板中有未知字段 \1；可用：\2"),
    (r"^unknown chat scenario (.+?); known: (.+)$", r"未知聊天场景 \1；可用：\2"),
    (r"^event (.+?) has no where key (.+?); known: (.+)$",
     r"事件 \1 没有 where 键 \2；可用：\3"),
    (r"^trigger (.+?) has no key (.+?)(?:; known: (.+))?$", r"触发 \1 没有键 \2"),
    (r"^no step with id (.+?) \(use a step id or end\)$",
     r"没有 id 为 \1 的步骤（应为步骤 id 或 end）"),
    (r"^arm shares and holdout add up to (.+), not 100$",
     r"各分组比例与对照组（holdout）之和为 \1，应为 100"),
    (r"^not valid YAML: (.+)$", r"不是有效的 YAML：\1"),
    (r"^the file is empty$", "文件为空"),
    (r"^key given twice$", "键重复出现"),
    (r"^(.+) given twice$", r"\1 重复出现"),
    (r"^branch needs (.+)$", r"branch 缺少 \1"),
    (r"^(.+?) must be one of (.+)$", r"\1 应为以下之一：\2"),
    (r"^(.+?) must be a whole number ≥ (\d+)$", r"\1 应为 ≥ \2 的整数"),
    (r"^(.+?) must be a whole number from (\d+) to (\d+)$", r"\1 应为 \2 到 \3 之间的整数"),
    (r"^(.+?) must be non-empty text$", r"\1 应为非空文本"),
    (r"^(.+?) must match (\S+) \(at most (\d+)(?: characters)?\)$",
     r"\1 应匹配 \2（最多 \3 个字符）"),
    (r"^(.+?) must match (\S+) and not be (.+)$", r"\1 应匹配 \2，且不能是 \3"),
    (r"^(.+?) must match (\S+)(.*)$", r"\1 应匹配 \2\3"),
    (r"^a journey is a mapping .*$", "旅程定义应为含 name、title、trigger、steps 的映射"),
    (r"^give trigger \(one\) or triggers .*$", "trigger（一个）与 triggers（列表）只能给一个"),
    (r"^triggers must be a non-empty list.*$", "triggers 应为非空的触发列表"),
    (r"^a manual trigger cannot be combined.*$", "manual 触发不能与其他触发同时使用"),
    (r"^steps must be a non-empty list$", "steps 应为非空列表"),
    (r"^until must be a time of day .*$", "until 应为品牌时区的时刻 HH:MM"),
    (r"^since must be .*$", "since 应为 enrolled、wait 或时长（如 7d、72h、30m）"),
    (r"^unbalanced \{ \} in template$", "模板中的 { } 不成对"),
    (r"^a step needs exactly one kind key; known: (.+)$", r"每个步骤只能有一个类型键；可用：\1"),
    (r"^a step is a mapping with one kind key \((.+)\)$", r"步骤应为含一个类型键的映射（\1）"),
    (r"^takes a mapping with (.+)$", r"应为含以下键的映射：\1"),
    (r"^(.+?) must be an amount ≥ 0 \(yuan\)$", r"\1 应为 ≥ 0 的金额（元）"),
    (r"^(.+?) must be a mapping(.*)$", r"\1 应为映射\2"),
    (r"^(.+?) must be a list of conditions$", r"\1 应为条件列表"),
    (r"^(.+?) must be text$", r"\1 应为文本"),
    (r"^(.+?) must be a (str|int|float)$",
     lambda m: f"{m[1]} 应为{ {'str': '文本', 'int': '整数', 'float': '数字'}[m[2]]}"),
    (r"^(.+?) must be a duration like (.+)$", r"\1 应为时长，如 \2"),
    (r"^(.+?) must be (\S+) or (\S+)$", r"\1 应为 \2 或 \3"),
    (r"^(.+?) must be an http:// or https:// address$", r"\1 应为 http:// 或 https:// 地址"),
    (r"^(.+?) must be a percentage in (.+)$", r"\1 应为 \2 内的百分比"),
    (r"^(.+?) has at most (\d+) characters$", r"\1 最多 \2 个字符"),
    (r"^after_days needs days: .*$", "after_days 需要 days：≥ 1 的整数"),
    (r"^(.+?) takes a non-empty list of conditions and nothing else$",
     r"\1 只接受一个非空的条件列表"),
    (r"^not takes one condition and nothing else$", "not 只接受一个条件"),
    (r"^a condition is a mapping: .*$",
     "条件应为映射：{event: …}、{audience: …}、{sent_unread: true}、{all: […]}、{any: […]} 或 "
     "{not: …}"),
    (r"^unknown condition (.+?); use .*$",
     r"未知条件 \1；可用：event、audience、sent_unread、all、any 或 not"),
    (r"^audience expression: (.+)$", r"人群表达式有误：\1"),
    (r"^audience takes one audience expression \(text\)$", "audience 应为一个人群表达式（文本）"),
    (r"^write sent_unread: true$", "应写作 sent_unread: true"),
    (r"^audience must name a saved audience$", "audience 应为已保存人群的名称"),
    (r"^trigger must be a mapping with a type: (.+)$", r"触发应为含 type 的映射：\1"),
    (r"^an arm is \{name, share, goto\}$", "分组应为 {name, share, goto}"),
    (r"^wait takes (.+) and/or (.+)$", r"wait 的写法：\1 和/或 \2"),
    (r"^(branch|exit|split) takes (.+)$", r"\1 的写法：\2"),
))
"""Chinese wording of the validator's reasons (English is the source text)."""


def _localise(reason: str) -> str:
    from siyu.i18n import current_language

    if current_language() != "zh":
        return reason
    for pat, zh in _ZH:
        if pat.match(reason):
            return pat.sub(zh, reason)
    return reason


class _Checker:
    def __init__(self, lines: dict[tuple, int]):
        self.lines = lines
        self.problems: list[Problem] = []

    def __call__(self, path: tuple, reason: str) -> None:
        p = path
        while p and p not in self.lines:
            p = p[:-1]
        self.problems.append(Problem(self.lines.get(p), _dotted(path), _localise(reason)))


# -- validation ----------------------------------------------------------------------------

def _check(doc: Any, problem: _Checker) -> None:
    from siyu.activation.conditions import check_condition
    from siyu.activation.steps import STEP_KINDS, check_steps
    from siyu.activation.triggers import check_trigger

    if not isinstance(doc, dict):
        problem((), "a journey is a mapping with name, title, trigger and steps")
        return
    for k in doc:
        if k not in TOP_KEYS:
            problem((k,), f"unknown key {k!r}; known: {', '.join(sorted(TOP_KEYS))}")
    for k in ("name", "title", "steps"):
        if k not in doc:
            problem((), f"missing required key {k!r}")
    if "trigger" not in doc and "triggers" not in doc:
        problem((), "missing required key 'trigger' (or 'triggers')")
    name = doc.get("name")
    if name is not None and (not isinstance(name, str) or not NAME_RE.match(name)):
        problem(("name",), "name must match [a-z][a-z0-9_]* (at most 64 characters)")
    if "title" in doc and (not isinstance(doc["title"], str) or not doc["title"].strip()):
        problem(("title",), "title must be non-empty text")
    if "description" in doc and not isinstance(doc["description"], str):
        problem(("description",), "description must be text")
    if "trigger" in doc and "triggers" in doc:
        problem(("triggers",), "give trigger (one) or triggers (a list), not both")
    elif "trigger" in doc:
        check_trigger(doc["trigger"], ("trigger",), problem)
    elif "triggers" in doc:
        _check_triggers(doc["triggers"], problem)
    if "steps" in doc:
        check_steps(doc["steps"], ("steps",), problem, STEP_KINDS)
    if "re_entry" in doc:
        _check_re_entry(doc["re_entry"], problem)
    if "exit_when" in doc:
        ex = doc["exit_when"]
        if not isinstance(ex, list):
            problem(("exit_when",), "exit_when must be a list of conditions")
        else:
            for i, c in enumerate(ex):
                check_condition(c, ("exit_when", i), problem)
    if "goal" in doc:
        _check_goal(doc["goal"], problem)


def _check_triggers(ts: Any, problem: _Checker) -> None:
    from siyu.activation.triggers import check_trigger

    if not isinstance(ts, list) or not ts:
        problem(("triggers",), "triggers must be a non-empty list of triggers")
        return
    for i, t in enumerate(ts):
        check_trigger(t, ("triggers", i), problem)
    types = [t.get("type") for t in ts if isinstance(t, dict)]
    if "manual" in types and len(ts) > 1:
        problem(("triggers", types.index("manual")),
                "a manual trigger cannot be combined with other triggers")


def triggers_of(doc: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    """The triggers of a validated document (``trigger:`` is a one-item ``triggers:``)."""
    return tuple(doc["triggers"]) if "triggers" in doc else (doc["trigger"],)


def _check_re_entry(r: Any, problem: _Checker) -> None:
    if not isinstance(r, dict):
        problem(("re_entry",), "re_entry must be a mapping {policy, days}")
        return
    for k in r:
        if k not in ("policy", "days"):
            problem(("re_entry", k), f"unknown key {k!r}; known: policy, days")
    pol = r.get("policy", "never")
    if pol not in RE_ENTRY:
        problem(("re_entry", "policy"), f"policy must be one of {', '.join(RE_ENTRY)}")
    if pol == "after_days":
        d = r.get("days")
        if not isinstance(d, int) or isinstance(d, bool) or d < 1:
            problem(("re_entry", "days"), "after_days needs days: a whole number ≥ 1")


def _check_goal(g: Any, problem: _Checker) -> None:
    from siyu.activation.events import check_event

    if not isinstance(g, dict):
        problem(("goal",), "goal must be a mapping {event, within_days, where}")
        return
    for k in g:
        if k not in ("event", "within_days", "where"):
            problem(("goal", k), f"unknown key {k!r}; known: event, within_days, where")
    check_event(g, ("goal",), problem)
    d = g.get("within_days")
    if not isinstance(d, int) or isinstance(d, bool) or d < 1:
        problem(("goal", "within_days"), "within_days must be a whole number ≥ 1")


def validate_text(text: str) -> list[Problem]:
    """Every problem of a YAML journey definition ([] when it is valid)."""
    doc, lines, problems = _compose(text)
    if problems:
        return [Problem(p.line, p.path, _localise(p.reason)) for p in problems]
    checker = _Checker(lines)
    _check(doc, checker)
    return checker.problems


def from_dict(doc: dict[str, Any]) -> Journey:
    """A Journey from an already validated document (as stored in ``journey_versions``)."""
    from siyu.activation.steps import normalise_steps

    return Journey(
        name=doc["name"], title=doc["title"], description=doc.get("description", ""),
        triggers=triggers_of(doc), steps=tuple(normalise_steps(doc["steps"])),
        re_entry=doc.get("re_entry") or {"policy": "never"},
        exit_when=tuple(doc.get("exit_when") or ()), goal=doc.get("goal"), doc=doc)


def parse_definition(text: str, source: str = "") -> Journey:
    problems = validate_text(text)
    if problems:
        raise JourneyInvalid(problems, source)
    doc, _, _ = _compose(text)
    return from_dict(doc)


def load_definition(path: str | Path) -> Journey:
    return parse_definition(read_text(path), str(path))
