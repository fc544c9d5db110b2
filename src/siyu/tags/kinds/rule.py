"""Rule tags: a condition in the audience language (docs/audiences.md), so one language
serves tags and audiences — attributes, relationships, tier, RFM segment, CLV and churn
deciles, other tags and event aggregates with filters in windows::

    抗衰老需求:
      kind: rule
      rule: 'views(last 30d, category = "抗衰老", dwell >= 180) >= 2'
      value: 浏览型            # optional: the value every carrier gets (default none)
"""

from __future__ import annotations

from typing import Any

import ibis

from siyu.audience.ast import And, Node, Not, Or, TagTerm
from siyu.audience.compile import compile_audience
from siyu.audience.parse import AudienceSyntaxError, parse
from siyu.audience.text import to_text
from siyu.errors import SiyuError
from siyu.i18n import tr
from siyu.tags.kinds import TagKind, register

__all__ = ["RuleKind", "rule_order", "tags_used", "leaves"]


def leaves(node: Node) -> list[Node]:
    """The terms of a tree, left to right."""
    if isinstance(node, And | Or):
        return [x for i in node.items for x in leaves(i)]
    if isinstance(node, Not):
        return leaves(node.item)
    return [node]


def tags_used(node: Node) -> set[str]:
    """Names of the tags a tree's ``tag(…)`` terms use."""
    return {t.name for t in leaves(node) if isinstance(t, TagTerm)}


@register
class RuleKind(TagKind):
    name = "rule"
    keys = {"rule": "the condition, in the audience language",
            "value": "the value every carrier gets (optional)"}
    required = ("rule",)

    @classmethod
    def validate(cls, spec, path, where) -> dict[str, Any]:
        spec = super().validate(spec, path, where)
        text = spec["rule"]
        if not isinstance(text, str) or not text.strip():
            raise where.error((*path, "rule"), "应为非空的人群表达式",
                              "expected a non-empty audience expression")
        try:
            tree = parse(text)
        except AudienceSyntaxError as e:
            raise where.error((*path, "rule"), "{m}", "{m}", m=str(e)) from None
        out: dict[str, Any] = {"rule": to_text(tree)}
        if "value" in spec:
            v = spec["value"]
            if not isinstance(v, str | int | float) or isinstance(v, bool) or str(v) == "":
                raise where.error((*path, "value"), "应为非空字符串或数字",
                                  "expected a non-empty string or number")
            out["value"] = str(v)
        return out

    def tree(self, d) -> Node:
        return parse(d.params["rule"])

    def compute(self, ctx, d):
        ids = compile_audience(ctx.src, self.tree(d), ctx.as_of, tag_table=ctx.tag_table)
        return ids.select("consumer_id",
                          value=ibis.literal(d.params.get("value"), type="string"))

    def source(self, d) -> str:
        return f"rule:{d.name}"

    def describe(self, d) -> str:
        return d.params["rule"]

    def why(self, ctx, d, consumer_id):
        from siyu.tags.facts import term_facts

        return {"rule": d.params["rule"],
                "terms": [term_facts(ctx, t, consumer_id) for t in leaves(self.tree(d))]}


def rule_order(defs, where=None) -> list:
    """The rule tags in an order where each comes after the rule tags it uses; a cycle is a
    :class:`SiyuError` (naming file and line when ``where`` is given)."""
    rules = {d.name: d for d in defs.of_kind("rule")}
    deps = {n: tags_used(parse(d.params["rule"])) & rules.keys() for n, d in rules.items()}
    done: list = []
    state: dict[str, int] = {}

    def visit(n: str, chain: tuple[str, ...]) -> None:
        if state.get(n) == 2:
            return
        if state.get(n) == 1:
            loop = " → ".join((*chain[chain.index(n):], n))
            d = rules[n]
            if where is not None:
                raise where.error(("groups", d.group, d.name, "rule"), "规则标签循环引用：{c}",
                                  "rule tags use each other in a cycle: {c}", c=loop)
            raise SiyuError(tr("规则标签循环引用：{c}", "rule tags use each other in a cycle: {c}",
                               c=loop))
        state[n] = 1
        for m in sorted(deps[n]):
            visit(m, (*chain, n))
        state[n] = 2
        done.append(rules[n])

    for n in rules:
        visit(n, ())
    return done
