"""The vocabulary of the audience language: comparison terms, functions and event kinds.

Each comparison term declares its value type, the values it accepts and the spellings it
normalises (``男`` → ``male``); the parser and the JSON reader both build nodes through
:func:`check_compare` and :func:`check_event`, so a tree is valid whichever form it came from.
A check failure is a :class:`TermError` whose message the caller places (text position or JSON
path).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field

from siyu.audience.ast import OPS, Compare, EventAgg, EventFilter, Scalar, Value
from siyu.i18n import tr
from siyu.models.rfm import SEGMENTS
from siyu.schema import _GENDER_ALIASES, ENGAGED_TYPES, FIELDS, VISIT_TYPES

__all__ = ["TermSpec", "COMPARE_TERMS", "EVENT_KINDS", "EVENT_FILTERS", "FUNCTIONS",
           "TERM_NAMES", "TermError", "check_compare", "check_event", "check_filter",
           "check_field", "unknown_name"]

ORDER_OPS = ("=", "!=", "<", "<=", ">", ">=", "in")
EQ_OPS = ("=", "!=", "in")


class TermError(ValueError):
    """A term, operator or value the language does not accept (message in the user's
    language)."""


@dataclass(frozen=True)
class TermSpec:
    """One comparison term: its value type, operators, accepted values and aliases."""

    name: str
    type: type
    doc: str
    ops: tuple[str, ...] = ORDER_OPS
    values: tuple[Scalar, ...] | None = None
    aliases: dict[str, str] = field(default_factory=dict)
    range: tuple[int, int] | None = None
    normalise: Callable[[str], str] | None = None


def _segment_aliases() -> dict[str, str]:
    out = {}
    for code, (zh, en) in SEGMENTS.items():
        out[zh] = code
        out[en] = code
    return out


def _gender_aliases() -> dict[str, str]:
    return {**_GENDER_ALIASES, "男性": "male", "女性": "female"}


COMPARE_TERMS: dict[str, TermSpec] = {s.name: s for s in (
    TermSpec("tier", int, "relationship tier 0–5 at as_of (§5, month to date)", range=(0, 5)),
    TermSpec("rfm", str, "RFM segment at as_of (§9)", EQ_OPS, tuple(SEGMENTS),
             _segment_aliases()),
    TermSpec("clv_decile", int, "predictive CLV decile 1–10 (10 = highest), clv_predictions",
             range=(1, 10)),
    TermSpec("churn_decile", int, "churn-risk decile 1–10 (10 = riskiest), clv_predictions",
             range=(1, 10)),
    TermSpec("city", str, "city attribute (consumers, latest row)", EQ_OPS),
    TermSpec("province", str, "province attribute (consumers, latest row)", EQ_OPS),
    TermSpec("gender", str, "gender attribute: male, female, unknown", EQ_OPS,
             ("male", "female", "unknown"), _gender_aliases(), normalise=str.lower),
    TermSpec("birthday_month", int, "month of the birthday attribute, 1–12", range=(1, 12)),
)}
"""Terms written ``name op value``."""

EVENT_KINDS: dict[str, str] = {
    "orders": "paid orders",
    "gmv": "Σ amount of paid orders (yuan)",
    "purchase_days": "distinct local days with a paid order",
    "visits": "visit-type interactions (every type but message_sent)",
    "engagements": "engaged interactions (like, comment, message, checkin)",
    "messages": "messages the consumer wrote",
    "views": "content views",
    "shares": "shares of brand content",
}
"""Event aggregates written ``kind(last 90d) op number``."""

def _filters(*specs: TermSpec) -> dict[str, TermSpec]:
    return {s.name: s for s in specs}


_F_FIELD = TermSpec("field", str, "the event's field (场域)", EQ_OPS, FIELDS)
_F_REF = TermSpec("field_ref", str, "the event's touchpoint (group, live room, account…)",
                  EQ_OPS)
_F_CONTENT = TermSpec("content_id", str, "the content id", EQ_OPS)
_ORDER_FILTERS = _filters(
    TermSpec("category", str, "a line's product category (order_items.category)", EQ_OPS),
    TermSpec("sku", str, "a line's sku (order_items.sku)", EQ_OPS),
    _F_FIELD, _F_REF,
    TermSpec("store_id", str, "the order's store", EQ_OPS),
    TermSpec("guide_id", str, "the order's shopping guide", EQ_OPS),
    TermSpec("amount", float, "the order's amount (yuan)"),
)


def _interaction_filters(types: tuple[str, ...] | None) -> dict[str, TermSpec]:
    specs = [_F_FIELD, _F_REF, _F_CONTENT,
             TermSpec("category", str, "content category: the interaction's `category` column "
                      "(kept in attrs)", EQ_OPS),
             TermSpec("dwell", float, "dwell_seconds of the interaction (null never matches)")]
    if types:
        specs.append(TermSpec("type", str, "interaction type", EQ_OPS, types))
    return _filters(*specs)


EVENT_FILTERS: dict[str, dict[str, TermSpec]] = {
    "orders": _ORDER_FILTERS, "gmv": _ORDER_FILTERS, "purchase_days": _ORDER_FILTERS,
    "visits": _interaction_filters(VISIT_TYPES),
    "engagements": _interaction_filters(ENGAGED_TYPES),
    "messages": _interaction_filters(None), "views": _interaction_filters(None),
    "shares": _filters(_F_FIELD, _F_CONTENT,
                       TermSpec("content_type", str, "the shared content's type", EQ_OPS)),
}
"""Filters each event kind takes inside its parentheses: ``views(last 30d, dwell >= 180)``."""

FUNCTIONS: tuple[str, ...] = ("tag", "in_field", "in_audience")
"""Predicates written as calls with string arguments."""

TERM_NAMES: tuple[str, ...] = (*COMPARE_TERMS, *EVENT_KINDS, *FUNCTIONS)


def unknown_name(name: str) -> str:
    """The message for an unknown term: a suggestion when one is close, and the list."""
    close = difflib.get_close_matches(name, TERM_NAMES, n=1)
    hint = tr("（是否想写 {c}？）", " (did you mean {c}?)", c=close[0]) if close else ""
    return tr("未知条件 {n}{h}；可用：{ok}", "unknown term {n!r}{h}; valid terms: {ok}",
              n=name, h=hint, ok=", ".join(TERM_NAMES))


def _check_scalar(spec: TermSpec, v: Scalar) -> Scalar:
    if spec.type is float:
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise TermError(tr("{t} 的值应为数字，却是 {v}", "{t} takes a number, not {v!r}",
                               t=spec.name, v=v))
        return v
    if spec.type is int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise TermError(tr("{t} 的值应为整数，却是 {v}", "{t} takes an integer, not {v!r}",
                               t=spec.name, v=v))
        if spec.range and not spec.range[0] <= v <= spec.range[1]:
            raise TermError(tr("{t} 的值应在 {a}–{b} 之间，却是 {v}",
                               "{t} takes a value from {a} to {b}, not {v}",
                               t=spec.name, a=spec.range[0], b=spec.range[1], v=v))
        return v
    if not isinstance(v, str):
        raise TermError(tr("{t} 的值应为字符串（加引号），却是 {v}",
                           "{t} takes a quoted string, not {v!r}", t=spec.name, v=v))
    if spec.values is not None:
        s = spec.aliases.get(v, v)
        s = spec.aliases.get(spec.normalise(s), spec.normalise(s)) if spec.normalise else s
        if s not in spec.values:
            raise TermError(tr("{t} 的值应为 {ok} 之一，却是 {v}",
                               "{t} takes one of {ok}, not {v!r}",
                               t=spec.name, ok=", ".join(map(str, spec.values)), v=v))
        return s
    return v


def _op_value(spec: TermSpec, op: str, value: Value, what: tuple[str, str]) -> Value:
    """``value`` checked and normalised for ``spec`` under ``op`` (a tuple for ``in``);
    ``what`` names the term in messages, as (zh, en)."""
    if op not in spec.ops:
        raise TermError(tr("{w} 不支持运算符 {op}；可用：{ok}",
                           "{e} does not take operator {op!r}; use one of {ok}",
                           w=what[0], e=what[1], op=op, ok=" ".join(spec.ops)))
    if op == "in":
        if not isinstance(value, tuple) or not value:
            raise TermError(tr("in 后应为非空列表 [..]", "in takes a non-empty list [..]"))
        return tuple(_check_scalar(spec, v) for v in value)
    if isinstance(value, tuple):
        raise TermError(tr("列表只能用于 in", "a list goes with in only"))
    return _check_scalar(spec, value)


def check_compare(term: str, op: str, value: Value) -> Compare:
    """A valid :class:`Compare` with normalised values, or :class:`TermError`."""
    spec = COMPARE_TERMS.get(term)
    if spec is None:
        raise TermError(unknown_name(term))
    return Compare(term, op, _op_value(spec, op, value, (term, term)))  # type: ignore[arg-type]


def check_filter(kind: str, name: str, op: str, value: Value) -> EventFilter:
    """A valid :class:`EventFilter` of event kind ``kind`` with normalised values, or
    :class:`TermError` (an unknown filter names the ones the kind takes)."""
    specs = EVENT_FILTERS.get(kind, {})
    spec = specs.get(name)
    if spec is None:
        close = difflib.get_close_matches(name, list(specs), n=1)
        hint = tr("（是否想写 {c}？）", " (did you mean {c}?)", c=close[0]) if close else ""
        raise TermError(tr("{k}(...) 没有筛选条件 {n}{h}；可用：{ok}",
                           "{k}(...) has no filter {n!r}{h}; valid filters: {ok}",
                           k=kind, n=name, h=hint, ok=", ".join(specs)))
    what = (f"筛选条件 {name}", f"filter {name}")
    return EventFilter(name, op, _op_value(spec, op, value, what))  # type: ignore[arg-type]


def check_event(kind: str, n: int, unit: str, op: str, value: object,
                filters: tuple[EventFilter, ...] = ()) -> EventAgg:
    """A valid :class:`EventAgg` (``filters`` already checked by :func:`check_filter`), or
    :class:`TermError`."""
    if kind not in EVENT_KINDS:
        raise TermError(unknown_name(kind))
    if unit not in ("d", "w") or isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise TermError(tr("时间窗应写作 90d 或 12w（天、周，至少 1）",
                           "a window is written like 90d or 12w (days, weeks, at least 1)"))
    if op not in OPS or op == "in":
        raise TermError(tr("{k}(...) 后应为比较运算符 = != < <= > >=",
                           "{k}(...) is followed by one of = != < <= > >=", k=kind))
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TermError(tr("{k}(...) 应与数字比较，却是 {v}",
                           "{k}(...) is compared with a number, not {v!r}", k=kind, v=value))
    return EventAgg(kind, n, unit, op, value, tuple(filters))  # type: ignore[arg-type]


def check_field(name: str) -> str:
    """``name`` when it is a field (场域), else :class:`TermError`."""
    if name not in FIELDS:
        close = difflib.get_close_matches(name, FIELDS, n=1)
        hint = tr("（是否想写 {c}？）", " (did you mean {c}?)", c=close[0]) if close else ""
        raise TermError(tr("未知场域 {n}{h}；可用：{ok}", "unknown field {n!r}{h}; valid: {ok}",
                           n=name, h=hint, ok=", ".join(FIELDS)))
    return name
