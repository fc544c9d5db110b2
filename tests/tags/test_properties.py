"""Invariants (hypothesis): a rule tag's carriers are exactly the audience of its rule, for
random rules over the tag brand; a compute never changes manual tags; the rule text written
to tags.yaml comes back as the same tree."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from siyu.audience import members, parse, to_text
from siyu.audience.ast import And, Compare, EventAgg, EventFilter, InField, Not, Or, TagTerm
from siyu.tags.compute import compute
from siyu.tags.manual import resolved, set_tag
from tests.tags.brand import AS_OF, REVOKED, carriers, people, tws  # noqa: F401

OPS = ["=", "!=", "<", "<=", ">", ">="]
leaves = st.one_of(
    st.builds(Compare, st.just("tier"), st.sampled_from(OPS), st.integers(0, 5)),
    st.builds(Compare, st.just("rfm"), st.sampled_from(["=", "!="]),
              st.sampled_from(["new", "churn_warning", "high_value_loyal", "dormant"])),
    st.builds(Compare, st.just("city"), st.sampled_from(["=", "!="]),
              st.sampled_from(["上海", "北京", "深圳"])),
    st.builds(EventAgg, st.just("views"), st.sampled_from([1, 10, 30, 31]), st.just("d"),
              st.sampled_from(OPS), st.integers(0, 2), st.lists(st.one_of(
                  st.builds(EventFilter, st.just("category"), st.sampled_from(["=", "!="]),
                            st.sampled_from(["抗衰老", "护肤"])),
                  st.builds(EventFilter, st.just("dwell"), st.sampled_from(OPS),
                            st.sampled_from([179, 180, 300]))), max_size=2).map(tuple)),
    st.builds(EventAgg, st.sampled_from(["orders", "gmv"]), st.sampled_from([30, 90]),
              st.just("d"), st.sampled_from(OPS), st.sampled_from([0, 1, 100, 200]),
              st.lists(st.builds(EventFilter, st.just("category"), st.just("="),
                                 st.sampled_from(["护肤", "零食"])), max_size=1).map(tuple)),
    st.builds(InField, st.sampled_from(["group_chat", "membership", "guide"])),
    st.builds(TagTerm, st.sampled_from(["关系层级", "购买周期到了", "VIP"]),
              st.none() | st.sampled_from(["3", "gold"])),
)
rules = st.recursive(leaves, lambda kids: (
    st.builds(Not, kids)
    | st.lists(kids, min_size=2, max_size=3).map(lambda x: And(tuple(x)))
    | st.lists(kids, min_size=2, max_size=3).map(lambda x: Or(tuple(x)))), max_leaves=4)


@pytest.fixture(scope="module")
def ready(tws):  # noqa: F811
    set_tag(tws, "member:u3", "VIP", "gold", actor="cli:prop")
    set_tag(tws, "member:u5", "VIP", actor="cli:prop")
    return tws


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.data_too_large])
@given(st.lists(rules, min_size=1, max_size=4))
def test_rule_tags_equal_their_audiences(ready, trees):
    ws = ready
    lines = ["groups:", "  随机:"]
    for i, t in enumerate(trees):
        text = to_text(t).replace("'", "''")
        lines += [f"    r{i}:", "      kind: rule", f"      rule: '{text}'"]
    (ws.home / "tags.yaml").write_text("\n".join(lines) + "\n" + _builtin_groups(),
                                       encoding="utf-8")
    manual_before = resolved(ws)[0].select(["consumer_id", "tag", "value"]).to_pylist()
    compute(ws, as_of=AS_OF)
    who = people(ws)
    for i, t in enumerate(trees):
        # the audience of the rule, less those who revoked consent for profiling
        expected = {who[c] for c in members(ws, t, AS_OF)} - REVOKED
        assert set(carriers(ws, f"r{i}")) == expected, to_text(t)
        assert parse(to_text(t)) == t
    assert resolved(ws)[0].select(["consumer_id", "tag", "value"]).to_pylist() == manual_before
    assert carriers(ws, "VIP") == {"u3": "gold", "u5": None}


def _builtin_groups() -> str:
    from siyu.tags.definitions import starter_text

    return starter_text().split("groups:\n", 1)[1]
