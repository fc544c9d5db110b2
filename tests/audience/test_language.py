"""The audience language: parse, print, JSON, precedence and errors (no warehouse)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from siyu.audience import (
    And,
    AudienceJSONError,
    AudienceSyntaxError,
    Compare,
    EventAgg,
    InAudience,
    InField,
    Not,
    Or,
    TagTerm,
    from_json,
    parse,
    to_json,
    to_text,
)
from siyu.audience.terms import COMPARE_TERMS, EVENT_KINDS
from siyu.errors import UsageError
from siyu.i18n import language
from siyu.schema import FIELDS

T3 = Compare("tier", ">=", 3)
A, B, C = (Compare("city", "=", x) for x in "abc")


def c(s: str) -> Compare:
    return Compare("city", "=", s)


def test_the_issue_example():
    t = parse('tier >= 3 and tag("抗衰老需求") and not rfm = "dormant" and '
              'orders(last 90d) >= 2 and in_field("group_chat", "g-001")')
    assert t == And((T3, TagTerm("抗衰老需求"), Not(Compare("rfm", "=", "dormant")),
                     EventAgg("orders", 90, "d", ">=", 2), InField("group_chat", "g-001")))
    assert to_text(t) == ('tier >= 3 and tag("抗衰老需求") and not rfm = "dormant" and '
                          'orders(last 90d) >= 2 and in_field("group_chat", "g-001")')


@pytest.mark.parametrize("text, tree", [
    ('city="a" or city="b" and city="c"', Or((A, And((B, C))))),
    ('city="a" and city="b" or city="c"', Or((And((A, B)), C))),
    ('not city="a" and city="b"', And((Not(A), B))),
    ('not (city="a" and city="b")', Not(And((A, B)))),
    ('not not city="a"', Not(Not(A))),
    ('(city="a" or city="b") and city="c"', And((Or((A, B)), C))),
    ('city="a" and (city="b" and city="c")', And((A, And((B, C))))),
    ('city="a" and city="b" and city="c"', And((A, B, C))),
    ('city="a" 且 city="b" 或 非 city="c"', Or((And((A, B)), Not(C)))),
    ('city="a" AND city="b" Or NOT city="c"', Or((And((A, B)), Not(C)))),
])
def test_precedence_not_and_or(text, tree):
    assert parse(text) == tree
    assert parse(to_text(tree)) == tree


def test_printer_uses_the_fewest_parentheses():
    assert to_text(Or((A, And((B, C))))) == 'city = "a" or city = "b" and city = "c"'
    assert to_text(And((Or((A, B)), C))) == '(city = "a" or city = "b") and city = "c"'
    assert to_text(Not(Or((A, B)))) == 'not (city = "a" or city = "b")'
    assert to_text(Not(Not(A))) == 'not not city = "a"'


@pytest.mark.parametrize("text, tree", [
    ("tier in [1, 2,3]", Compare("tier", "in", (1, 2, 3))),
    ("tier == 2", Compare("tier", "=", 2)),
    ("tier <> 2", Compare("tier", "!=", 2)),
    ("gender = '男'", Compare("gender", "=", "male")),
    ('gender = "Female"', Compare("gender", "=", "female")),
    ('rfm in ["沉睡客", "new"]', Compare("rfm", "in", ("dormant", "new"))),
    ('city = "上\\"海"', Compare("city", "=", '上"海')),
    ("city = “上海”", Compare("city", "=", "上海")),
    ("gmv(12w) > 99.5", EventAgg("gmv", 12, "w", ">", 99.5)),
    ("orders（last 7d）= 0", EventAgg("orders", 7, "d", "=", 0)),
    ('tag("肤质", "干性")', TagTerm("肤质", "干性")),
    ('in_field("guide")', InField("guide")),
    ("in_audience('高潜')", InAudience("高潜")),
    ("birthday_month = 3", Compare("birthday_month", "=", 3)),
])
def test_terms(text, tree):
    assert parse(text) == tree


@pytest.mark.parametrize("text, pos, expected", [
    ("tier >= 3 and (", 15, ("term",)),                    # nothing after "("
    ('(tier > 1 or city = "x"', 23, ("connective)",)),     # missing ")"
    ('(tier > 1 city = "x")', 10, ("connective)",)),       # missing and/or
    ("tier >= 3 tier >= 1", 10, ("connective",)),
    ("tiers >= 3", 0, ("term",)),                          # unknown term
    ("tier >= 3 and oders(last 9d) > 1", 14, ("term",)),
    ("orders(last 90x) > 1", 12, ("number", "window")),   # bad duration
    ("orders(last 90) > 1", 12, ("window",)),             # a number, not a window
    ("orders(last 0d) > 1", 12, ("window",)),
    ('orders(last 9d) > "2"', 18, ("number",)),
    ('city = "上海', 7, ("quote",)),                      # unterminated string
    ("tier >", 6, ("value",)),
    ("tier 3", 5, ("operator",)),
    ('rfm > "dormant"', 4, ("operator",)),                # rfm takes = != in
    ('rfm = "sleepy"', 6, ("value",)),
    ('tier = "3"', 7, ("value",)),
    ("tier = 9", 7, ("value",)),
    ('city in ["a" "b"]', 13, (", or ]",)),
    ('in_field("grp")', 9, ("string",)),                  # unknown field
    ('tag("a", "b", "c")', 12, (")",)),
    ("tag()", 4, ("string",)),
    ('tag("")', 4, ("string",)),
    ("tier >= 3 @", 10, ()),
    ("", 0, ("term",)),
])
def test_error_positions(text, pos, expected):
    with pytest.raises(AudienceSyntaxError) as e:
        parse(text)
    assert (e.value.position, e.value.expected) == (pos, expected)
    assert isinstance(e.value, UsageError) and e.value.exit_code == 2


def test_error_message_english_with_caret():
    with pytest.raises(AudienceSyntaxError) as e:
        parse('city = "上海" and tiers >= 3')
    msg = str(e.value).splitlines()
    assert msg[0] == ("at position 16: unknown term 'tiers' (did you mean tier?); valid terms: "
                      + ", ".join([*COMPARE_TERMS, *EVENT_KINDS, "tag", "in_field",
                                   "in_audience"]))
    # "上海" is two double-width characters: the caret sits under the t of tiers
    assert msg[1] == '  city = "上海" and tiers >= 3'
    assert msg[2] == "  " + " " * 18 + "^"


def test_error_message_chinese():
    with language("zh"), pytest.raises(AudienceSyntaxError) as e:
        parse("(tier >= 3")
    assert str(e.value).splitlines()[0] == "位置 10：应为 and、or 或 )，却是 表达式结束"
    with language("zh"), pytest.raises(AudienceSyntaxError) as e:
        parse('city = "上海')
    assert str(e.value).splitlines()[0] == "位置 7 的字符串没有结束引号 \""


def test_json_form():
    t = parse('tier in [3, 4] and not (tag("x", "y") or gmv(last 4w) >= 10.5)')
    assert to_json(t) == {"and": [
        {"term": "tier", "op": "in", "value": [3, 4]},
        {"not": {"or": [{"tag": "x", "value": "y"},
                        {"event": "gmv", "window": "4w", "op": ">=", "value": 10.5}]}}]}
    assert from_json(json.loads(json.dumps(to_json(t)))) == t


@pytest.mark.parametrize("doc, path", [
    ([], "$"),
    ({"and": [{"term": "tier", "op": ">=", "value": 3}]}, "$.and"),
    ({"or": [{"in_field": "guide"}, {"term": "tier", "op": ">>", "value": 3}]}, "$.or[1]"),
    ({"not": {"term": "tier", "op": ">=", "value": 3, "x": 1}}, "$.not"),
    ({"and": [{"in_field": "guide"}, {"event": "orders", "window": "3m", "op": ">=",
                                      "value": 1}]}, "$.and[1].window"),
    ({"in_field": "grp"}, "$.in_field"),
    ({"tag": ""}, "$.tag"),
    ({"tag": "a", "in_audience": "b"}, "$"),
    ({"term": "tier", "op": "=", "value": True}, "$"),
])
def test_json_errors_name_the_path(doc, path):
    with pytest.raises(AudienceJSONError) as e:
        from_json(doc)
    assert e.value.path == path and str(e.value).startswith(path + ": ")


def test_json_normalises_like_the_text():
    doc = {"and": [{"term": "gender", "op": "=", "value": "男"},
                   {"term": "rfm", "op": "in", "value": ["沉睡客"]}]}
    assert from_json(doc) == parse('gender = "male" and rfm in ["dormant"]')


# -- round trips over random trees ------------------------------------------------------------

names = st.text(min_size=1, max_size=6)


def _scalar(spec):
    if spec.type is int:
        lo, hi = spec.range or (0, 1000)
        return st.integers(lo, hi)
    return st.sampled_from(spec.values) if spec.values else st.text(max_size=6)


@st.composite
def compares(draw):
    spec = COMPARE_TERMS[draw(st.sampled_from(sorted(COMPARE_TERMS)))]
    op = draw(st.sampled_from(spec.ops))
    if op == "in":
        return Compare(spec.name, op, tuple(draw(st.lists(_scalar(spec), min_size=1,
                                                           max_size=3))))
    return Compare(spec.name, op, draw(_scalar(spec)))


events = st.builds(
    EventAgg, st.sampled_from(sorted(EVENT_KINDS)), st.integers(1, 400), st.sampled_from("dw"),
    st.sampled_from(["=", "!=", "<", "<=", ">", ">="]),
    st.integers(-5, 10**6) | st.floats(0, 10**6).map(lambda x: round(x, 2)))
leaves = (compares() | events
          | st.builds(TagTerm, names, st.none() | names)
          | st.builds(InField, st.sampled_from(FIELDS), st.none() | names)
          | st.builds(InAudience, names))
trees = st.recursive(leaves, lambda kids: (
    st.builds(Not, kids)
    | st.lists(kids, min_size=2, max_size=3).map(lambda x: And(tuple(x)))
    | st.lists(kids, min_size=2, max_size=3).map(lambda x: Or(tuple(x)))), max_leaves=8)


@settings(max_examples=300, deadline=None)
@given(trees)
def test_text_round_trip(tree):
    assert parse(to_text(tree)) == tree


@settings(max_examples=300, deadline=None)
@given(trees)
def test_json_round_trip(tree):
    doc = json.loads(json.dumps(to_json(tree), ensure_ascii=False))
    assert from_json(doc) == tree
    assert to_text(from_json(doc)) == to_text(tree)


def test_cli_parse_and_errors(cli):
    got = cli.json("audience", "parse", 'tier>=3 且 非 rfm="沉睡客"')
    assert got == {"and": [{"term": "tier", "op": ">=", "value": 3},
                           {"not": {"term": "rfm", "op": "=", "value": "dormant"}}]}
    r = cli("audience", "parse", 'tier >= 3 and (tag("a") or rfm = "dormant"', ok=False)
    assert r.exit_code == 2 and "position 42" in r.output
