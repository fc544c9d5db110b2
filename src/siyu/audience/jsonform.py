"""The JSON form of an audience tree, for the console and the API.

Shapes (every object has exactly the keys shown; ``?`` marks an optional one)::

    {"and": [node, node, …]}            {"or": [node, node, …]}         {"not": node}
    {"term": "tier", "op": ">=", "value": 3}      ("in": "value" is a list)
    {"event": "orders", "window": "90d", "op": ">=", "value": 2,
     "where"?: [{"filter": "category", "op": "=", "value": "护肤"}, …]}
    {"tag": "抗衰老需求", "value"?: "…"}
    {"in_field": "group_chat", "field_ref"?: "g-001"}
    {"in_audience": "…"}

:func:`from_json` validates everything the text parser does and names the JSON path of the
first problem (``$.and[2].op``): ``from_json(to_json(t)) == t``.
"""

from __future__ import annotations

import re
from typing import Any

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
from siyu.audience.terms import (
    TermError,
    check_compare,
    check_event,
    check_field,
    check_filter,
)
from siyu.errors import UsageError
from siyu.i18n import tr

__all__ = ["to_json", "from_json", "AudienceJSONError"]

_WINDOW = re.compile(r"([1-9][0-9]*)([dw])")


class AudienceJSONError(UsageError):
    """A JSON audience that is not a valid tree; ``path`` names where (exit code 2)."""

    def __init__(self, path: str, message: str):
        self.path = path
        super().__init__(tr("{p}：{m}", "{p}: {m}", p=path, m=message))


def to_json(node: Node) -> dict[str, Any]:
    """The JSON object of ``node`` (plain dicts, lists, strings and numbers)."""
    if isinstance(node, And):
        return {"and": [to_json(i) for i in node.items]}
    if isinstance(node, Or):
        return {"or": [to_json(i) for i in node.items]}
    if isinstance(node, Not):
        return {"not": to_json(node.item)}
    if isinstance(node, Compare):
        v = list(node.value) if isinstance(node.value, tuple) else node.value
        return {"term": node.term, "op": node.op, "value": v}
    if isinstance(node, EventAgg):
        out = {"event": node.kind, "window": f"{node.n}{node.unit}", "op": node.op,
               "value": node.value}
        if node.filters:
            out["where"] = [{"filter": f.name, "op": f.op,
                             "value": list(f.value) if isinstance(f.value, tuple) else f.value}
                            for f in node.filters]
        return out
    if isinstance(node, TagTerm):
        return {"tag": node.name} | ({} if node.value is None else {"value": node.value})
    if isinstance(node, InField):
        return {"in_field": node.field} | (
            {} if node.field_ref is None else {"field_ref": node.field_ref})
    if isinstance(node, InAudience):
        return {"in_audience": node.name}
    raise TypeError(f"not an audience node: {node!r}")


_SHAPES: dict[str, tuple[set[str], set[str]]] = {
    "and": ({"and"}, set()), "or": ({"or"}, set()), "not": ({"not"}, set()),
    "term": ({"term", "op", "value"}, set()),
    "event": ({"event", "window", "op", "value"}, {"where"}),
    "tag": ({"tag"}, {"value"}),
    "in_field": ({"in_field"}, {"field_ref"}),
    "in_audience": ({"in_audience"}, set()),
}
"""Node kind (its leading key) → (required keys, optional keys)."""


def _string(doc: dict, key: str, path: str) -> str:
    v = doc[key]
    if not isinstance(v, str) or not v:
        raise AudienceJSONError(f"{path}.{key}", tr("应为非空字符串", "expected a non-empty string"))
    return v


def _filters(doc: dict, kind: str, path: str) -> tuple[EventFilter, ...]:
    items = doc["where"]
    if not isinstance(items, list) or not items:
        raise AudienceJSONError(f"{path}.where", tr(
            "应为非空的筛选条件列表", "expected a non-empty list of filters"))
    out = []
    for i, f in enumerate(items):
        at = f"{path}.where[{i}]"
        if not isinstance(f, dict) or set(f) != {"filter", "op", "value"}:
            raise AudienceJSONError(at, tr(
                "筛选条件应恰有键 filter、op、value", "a filter has exactly the keys filter, "
                "op and value"))
        value = tuple(f["value"]) if isinstance(f["value"], list) else f["value"]
        try:
            out.append(check_filter(kind, _string(f, "filter", at), _string(f, "op", at),
                                    value))
        except TermError as e:
            raise AudienceJSONError(at, str(e)) from None
    return tuple(out)


def from_json(doc: Any, path: str = "$") -> Node:
    """The tree of JSON object ``doc``; :class:`AudienceJSONError` naming the path of the
    first problem."""
    if not isinstance(doc, dict):
        raise AudienceJSONError(path, tr("应为 JSON 对象", "expected a JSON object"))
    kinds = [k for k in _SHAPES if k in doc]
    if len(kinds) != 1:
        raise AudienceJSONError(path, tr(
            "应恰有以下键之一：{ok}", "expected exactly one of the keys {ok}",
            ok=", ".join(_SHAPES)))
    kind = kinds[0]
    required, optional = _SHAPES[kind]
    missing = sorted(required - doc.keys())
    extra = sorted(doc.keys() - required - optional)
    if missing or extra:
        raise AudienceJSONError(path, tr(
            "{k} 节点缺少键 {m}，或有多余的键 {x}", "a {k} node lacks keys {m} or has extra keys {x}",
            k=kind, m=missing, x=extra))
    if kind in ("and", "or"):
        items = doc[kind]
        if not isinstance(items, list) or len(items) < 2:
            raise AudienceJSONError(f"{path}.{kind}", tr(
                "应为至少两项的列表", "expected a list of at least two nodes"))
        nodes = tuple(from_json(x, f"{path}.{kind}[{i}]") for i, x in enumerate(items))
        return And(nodes) if kind == "and" else Or(nodes)
    if kind == "not":
        return Not(from_json(doc["not"], f"{path}.not"))
    if kind == "term":
        value = doc["value"]
        if isinstance(value, list):
            value = tuple(value)
        try:
            return check_compare(_string(doc, "term", path), _string(doc, "op", path), value)
        except TermError as e:
            raise AudienceJSONError(path, str(e)) from None
    if kind == "event":
        m = _WINDOW.fullmatch(str(doc["window"])) if isinstance(doc["window"], str) else None
        if m is None:
            raise AudienceJSONError(f"{path}.window", tr(
                "时间窗应写作 90d 或 12w", "a window is written like \"90d\" or \"12w\""))
        kind = _string(doc, "event", path)
        filters = _filters(doc, kind, path) if "where" in doc else ()
        try:
            return check_event(kind, int(m.group(1)), m.group(2),
                               _string(doc, "op", path), doc["value"], filters)
        except TermError as e:
            raise AudienceJSONError(path, str(e)) from None
    if kind == "tag":
        value = _string(doc, "value", path) if "value" in doc else None
        return TagTerm(_string(doc, "tag", path), value)
    if kind == "in_field":
        try:
            field = check_field(_string(doc, "in_field", path))
        except TermError as e:
            raise AudienceJSONError(f"{path}.in_field", str(e)) from None
        ref = _string(doc, "field_ref", path) if "field_ref" in doc else None
        return InField(field, ref)
    return InAudience(_string(doc, "in_audience", path))
