"""The canonical text form of an audience tree (:func:`to_text`), with the fewest parentheses
that give the same tree back: ``parse(to_text(t)) == t``.

>>> from siyu.audience.parse import parse
>>> to_text(parse("(tier>=3 或 city='上海') 且 非 tag('会员', \\"金\\")"))
'(tier >= 3 or city = "上海") and not tag("会员", "金")'
"""

from __future__ import annotations

from siyu.audience.ast import (
    And,
    Compare,
    EventAgg,
    EventFilter,
    InAudience,
    InField,
    Node,
    Not,
    Or,
    TagTerm,
)

__all__ = ["to_text", "quote", "filter_text"]

_LEVEL = {Or: 1, And: 2, Not: 3}


def quote(s: str) -> str:
    """``s`` as a double-quoted string literal."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _scalar(v: int | float | str) -> str:
    return quote(v) if isinstance(v, str) else repr(v)


def filter_text(f: EventFilter) -> str:
    """``name op value`` of an event filter (``dwell >= 180``, ``sku in ["a", "b"]``)."""
    if f.op == "in":
        return f"{f.name} in [" + ", ".join(_scalar(v) for v in f.value) + "]"  # type: ignore[union-attr]
    return f"{f.name} {f.op} {_scalar(f.value)}"  # type: ignore[arg-type]


def _wrap(child: Node, parent_level: int) -> str:
    """``child`` in parentheses when the parser would not give it back as its own node:
    a boolean node at or below the parent's level."""
    text = to_text(child)
    level = _LEVEL.get(type(child))
    if level is not None and level != 3 and level <= parent_level:
        return f"({text})"
    return text


def to_text(node: Node) -> str:
    """The canonical text of ``node``."""
    if isinstance(node, Or):
        return " or ".join(_wrap(i, 1) for i in node.items)
    if isinstance(node, And):
        return " and ".join(_wrap(i, 2) for i in node.items)
    if isinstance(node, Not):
        return "not " + _wrap(node.item, 3)
    if isinstance(node, Compare):
        if node.op == "in":
            vals = ", ".join(_scalar(v) for v in node.value)  # type: ignore[union-attr]
            return f"{node.term} in [{vals}]"
        return f"{node.term} {node.op} {_scalar(node.value)}"  # type: ignore[arg-type]
    if isinstance(node, TagTerm):
        args = [node.name] if node.value is None else [node.name, node.value]
        return "tag(" + ", ".join(map(quote, args)) + ")"
    if isinstance(node, InField):
        args = [node.field] if node.field_ref is None else [node.field, node.field_ref]
        return "in_field(" + ", ".join(map(quote, args)) + ")"
    if isinstance(node, InAudience):
        return f"in_audience({quote(node.name)})"
    if isinstance(node, EventAgg):
        args = "".join(", " + filter_text(f) for f in node.filters)
        return f"{node.kind}(last {node.n}{node.unit}{args}) {node.op} {_scalar(node.value)}"
    raise TypeError(f"not an audience node: {node!r}")
