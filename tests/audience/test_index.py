"""The bitmap index: for random trees the bitmap answer is exactly the warehouse answer
(hypothesis); freshness (as_of, changed inputs, OneID); stable ordinals; counts and --explain."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from siyu.audience import (
    And,
    Compare,
    EventAgg,
    InAudience,
    InField,
    Not,
    Or,
    TagTerm,
    count,
    parse,
)
from siyu.audience.compile import compile_audience
from siyu.audience.index import (
    ORDINALS,
    build_index,
    evaluate,
    ids_to_bitmap,
    load_index,
    update_ordinals,
)
from siyu.audience.refresh import refresh
from siyu.audience.saved import save
from siyu.audience.text import to_text
from siyu.models.rfm import SEGMENTS
from siyu.models.sources import Sources
from tests.audience.conftest import TAGS, make_ws, set_tags

AS_OF = date(2025, 3, 31)
KEYED = "events read in the warehouse, matched through the index's key map"
SAVED = {"高潜": "tier >= 3", "女性上海": 'gender = "female" and city = "上海"'}


@pytest.fixture(scope="module")
def iws(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SIYU_LANG", "en")
        mp.setenv("SIYU_ID_SALT", "test-salt")
        w = make_ws(tmp_path_factory.mktemp("index"))
        for name, expr in SAVED.items():
            save(w, name, expr)
        refresh(w, None, AS_OF)
        stats = build_index(w, AS_OF)
        w.stats = stats
        yield w
        w.close()


def warehouse_bitmap(ws, tree, day=AS_OF):
    return ids_to_bitmap(ws, compile_audience(Sources.of(ws), tree, day))


def test_build_stats(iws):
    s = iws.stats
    assert s["as_of"] == "2025-03-31" and s["consumers"] == 16 and s["skipped"] == []
    # values present in the brand: tiers 0–5, 3 cities, deciles of 7 predictions…
    assert s["terms"] == {"tier": 6, "rfm": s["terms"]["rfm"], "clv_decile": 6,
                          "churn_decile": 6, "gender": 2, "city": 3, "province": 3,
                          "birthday_month": 2}
    assert s["tags"] == 3 and s["audiences"] == 2
    assert s["bitmaps"] == 1 + sum(1 + n for n in s["terms"].values()) + (1 + 2) + (1 + 2) + (
        1 + 0) + 2 + sum(s["recency"].values())
    assert set(s["recency"]) == {"orders", "visits", "engagements", "messages", "views",
                                 "shares", "purchase_days"} and s["recency"]["orders"] > 0


INT_TERMS = {"tier": (0, 5), "clv_decile": (1, 10), "churn_decile": (1, 10),
             "birthday_month": (1, 12)}
STR_TERMS = {"rfm": tuple(SEGMENTS), "gender": ("male", "female", "unknown"),
             "city": ("上海", "北京", "深圳", "杭州"), "province": ("上海", "北京", "广东", "浙江")}
OPS = ("=", "!=", "<", "<=", ">", ">=")


@st.composite
def compare(draw):
    if draw(st.booleans()):
        term = draw(st.sampled_from(sorted(INT_TERMS)))
        lo, hi = INT_TERMS[term]
        op = draw(st.sampled_from((*OPS, "in")))
        if op == "in":
            return Compare(term, "in", tuple(draw(st.lists(st.integers(lo, hi), min_size=1,
                                                           max_size=3))))
        return Compare(term, op, draw(st.integers(lo, hi)))
    term = draw(st.sampled_from(sorted(STR_TERMS)))
    op = draw(st.sampled_from(("=", "!=", "in")))
    vals = STR_TERMS[term]
    if op == "in":
        return Compare(term, "in", tuple(draw(st.lists(st.sampled_from(vals), min_size=1,
                                                       max_size=3))))
    return Compare(term, op, draw(st.sampled_from(vals)))


tags = st.sampled_from([TagTerm("抗衰老需求"), TagTerm("抗衰老需求", "是"), TagTerm("肤质", "干性"),
                        TagTerm("vip"), TagTerm("vip", "x"), TagTerm("没有的标签")])
audiences = st.sampled_from([InAudience(n) for n in SAVED])
leaves = st.one_of(compare(), tags, audiences)
trees = st.recursive(
    leaves,
    lambda kids: st.one_of(st.lists(kids, min_size=2, max_size=4).map(lambda x: And(tuple(x))),
                           st.lists(kids, min_size=2, max_size=4).map(lambda x: Or(tuple(x))),
                           kids.map(Not)),
    max_leaves=10)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree=trees)
def test_bitmap_equals_warehouse(iws, tree):
    bm, ex = evaluate(iws, tree, AS_OF)
    assert ex.used_index and all(t["from"] == "index" for t in ex.terms)
    assert bm == warehouse_bitmap(iws, tree)


events = st.builds(lambda kind, n, op, v: EventAgg(kind, n, "d", op, v),
                  st.sampled_from(("orders", "messages", "visits", "gmv")),
                  st.sampled_from((7, 30, 90)), st.sampled_from(OPS), st.integers(0, 3))
fields = st.sampled_from([InField("group_chat"), InField("group_chat", "g-001"),
                          InField("guide"), InField("membership")])
mixed = st.recursive(
    st.one_of(compare(), tags, audiences, events, fields),
    lambda kids: st.one_of(st.lists(kids, min_size=2, max_size=3).map(lambda x: And(tuple(x))),
                           st.lists(kids, min_size=2, max_size=3).map(lambda x: Or(tuple(x))),
                           kids.map(Not)),
    max_leaves=6)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree=mixed)
def test_mixed_random_trees_equal_warehouse(iws, tree):
    """Event windows (including ones that hold for consumers without events, fetched as a
    complement) and in_field, combined with indexed terms."""
    bm, _ = evaluate(iws, tree, AS_OF)
    want = warehouse_bitmap(iws, tree)
    assert (bm if bm is not None else want) == want
    assert count(iws, tree, AS_OF)["count"] == len(want)


@pytest.mark.parametrize("text", [
    'tier >= 3 and gmv(last 30d) >= 100',
    'not in_field("membership") or tag("vip")',
    '(city = "上海" or purchase_days(last 30d) >= 1) and not (tier = 0 or orders(last 30d) = 4)',
    'not (views(last 30d) = 1 or in_field("group_chat", "g-001")) and churn_decile >= 5',
])
def test_mixed_trees_combine_warehouse_terms(iws, text):
    tree = parse(text)
    bm, ex = evaluate(iws, tree, AS_OF)
    assert {t["from"] for t in ex.terms} == {"index", "warehouse"}
    assert bm == warehouse_bitmap(iws, tree)
    assert count(iws, tree, AS_OF)["count"] == len(bm)


def test_count_json_shape_and_explain(iws):
    got = count(iws, "tier >= 4 and not tag(\"vip\")", AS_OF)
    assert set(got) == {"count", "ms"} and got["count"] == 4  # u5, u6, u11, u14 (u12 is vip)
    ex = count(iws, "tier >= 4 and orders(last 30d) >= 2", AS_OF, explain=True)
    assert ex["count"] == 2 and ex["index"] is True  # u5, u12
    assert ex["terms"] == [{"term": "tier >= 4", "from": "index", "why": ""},
                           {"term": "orders(last 30d) >= 2", "from": "index", "why": ""}]
    only_events = count(iws, "orders(last 30d) >= 2", AS_OF, explain=True)
    assert only_events["index"] is True and only_events["count"] == 7
    deep = count(iws, "tier >= 4 and orders(last 30d) > 3", AS_OF, explain=True)
    assert deep["terms"][1] == {"term": "orders(last 30d) > 3", "from": "warehouse",
                                "why": KEYED}
    filtered = count(iws, "orders(last 30d) >= 2 and gmv(last 30d) >= 1", AS_OF, explain=True)
    assert [t["from"] for t in filtered["terms"]] == ["index", "warehouse"]


recency_terms = st.builds(
    lambda kind, n, unit, op, v: EventAgg(kind, n, unit, op, v),
    st.sampled_from(("orders", "visits", "engagements", "messages", "views", "shares",
                     "purchase_days")),
    st.sampled_from((1, 2, 7, 30, 59, 60, 61, 90, 400, 401)), st.sampled_from(("d", "w")),
    st.sampled_from(OPS), st.one_of(st.integers(-1, 5), st.sampled_from((0.0, 1.0, 1.5))))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(term=recency_terms)
def test_event_windows_from_the_recency_bitmaps_equal_the_warehouse(iws, term):
    """Counts of events in a window compared with a small whole number come from the k-th
    latest event's age; everything else (deeper, longer, fractional) from the warehouse —
    the same consumers either way, window edges included."""
    from siyu.audience.index import RECENCY_DAYS, RECENCY_DEPTH

    bm, ex = evaluate(iws, term, AS_OF)
    want = warehouse_bitmap(iws, term)
    v = term.value
    whole = float(v).is_integer()
    need = int(v) + (1 if term.op in (">", "<=", "=", "!=") else 0) if whole else 99
    if need <= RECENCY_DEPTH and term.days <= RECENCY_DAYS:
        assert ex.used_index and [t["from"] for t in ex.terms] == ["index"]
    else:  # the events are read in the warehouse, matched through the key map
        assert ex.terms == [{"term": to_text(term), "from": "warehouse", "why": KEYED}]
    assert bm == want and count(iws, term, AS_OF)["count"] == len(want)


def test_event_recency_needs_the_index_day(iws):
    feb = date(2025, 2, 28)
    tree = parse("orders(last 30d) >= 1")
    bm, ex = evaluate(iws, And((tree, parse('city = "北京"'))), feb)
    assert [t["from"] for t in ex.terms] == ["warehouse", "index"]
    assert bm == warehouse_bitmap(iws, And((tree, parse('city = "北京"'))), feb)


def test_tier_and_rfm_need_the_index_day(iws):
    feb = date(2025, 2, 28)
    tree = parse('tier = 3 and city = "北京"')
    bm, ex = evaluate(iws, tree, feb)
    assert [t["from"] for t in ex.terms] == ["warehouse", "index"]
    assert "2025-03-31" in ex.terms[0]["why"]
    assert bm == warehouse_bitmap(iws, tree, feb) and len(bm) == 1  # u2
    # terms that do not depend on the day still come from the index
    _, ex = evaluate(iws, parse('tag("vip") or clv_decile >= 9'), feb)
    assert {t["from"] for t in ex.terms} == {"index"}


def test_changed_inputs_fall_back_per_section(tmp_path):
    with make_ws(tmp_path) as w:
        build_index(w, AS_OF)
        tree = parse('tag("vip") and tier >= 1')
        set_tags(w, [*TAGS, ("u1", "vip", None)], at="2025-04-01 08:00")
        bm, ex = evaluate(w, tree, AS_OF)
        assert [t["from"] for t in ex.terms] == ["warehouse", "index"]
        assert "tags" in ex.terms[0]["why"]
        assert bm == warehouse_bitmap(w, tree) and len(bm) == 3  # u1, u9, u12
        # a refresh rewrites the audiences section
        save(w, "a", "tier = 1")
        assert refresh(w, "a", AS_OF)["index"] is True
        _, ex = evaluate(w, parse('in_audience("a")'), AS_OF)
        assert ex.terms[0]["from"] == "index"
        # OneID ran again: the whole count goes to the warehouse
        from siyu.identity import resolve

        resolve(w)
        bm, ex = evaluate(w, tree, AS_OF)
        assert bm is None and not ex.used_index
        assert count(w, tree, AS_OF)["count"] == 3


def test_ordinals_are_stable(tmp_path):
    with make_ws(tmp_path) as w:
        assert update_ordinals(w) == 16
        first = dict(w.warehouse.raw.execute(f"SELECT consumer_id, ordinal FROM {ORDINALS}"
                                              ).fetchall())
        assert sorted(first.values()) == list(range(16))
        w.warehouse.raw.execute("INSERT INTO identity_map (key, consumer_id) "
                                "VALUES ('member:new', 'c0000000000000000')")
        assert update_ordinals(w) == 17
        again = dict(w.warehouse.raw.execute(f"SELECT consumer_id, ordinal FROM {ORDINALS}"
                                              ).fetchall())
        assert {k: again[k] for k in first} == first and again["c0000000000000000"] == 16


def test_no_index_means_warehouse(tmp_path):
    with make_ws(tmp_path) as w:
        assert load_index(w) is None
        bm, ex = evaluate(w, parse("tier >= 3"), AS_OF)
        assert bm is None and ex.reason == "no index"
        assert count(w, "tier >= 3", AS_OF)["count"] == 10


def test_a_tag_with_too_many_values_keeps_only_its_all_bitmap(tmp_path, monkeypatch):
    """肤质 has two values here; with a limit of one, tag("肤质") still comes from the index and
    tag("肤质", "干性") is counted in the warehouse — with the same answer."""
    import siyu.audience.index as index_module

    monkeypatch.setattr(index_module, "TAG_VALUES_MAX", 1)
    with make_ws(tmp_path) as w:
        stats = build_index(w, AS_OF)
        manifest = load_index(w).manifest
        assert manifest["tags"]["肤质"]["values"] is None
        assert manifest["tags"]["抗衰老需求"]["values"] is None  # 是, 否
        assert set(manifest["tags"]["vip"]["values"]) == set()  # no value: within the limit
        assert stats["tags"] == 3
        bm, ex = evaluate(w, parse('tag("肤质")'), AS_OF)
        assert ex.terms[0]["from"] == "index" and len(bm) == 3  # u3, u5, u14
        tree = parse('tag("肤质", "干性") and tier >= 0')
        bm, ex = evaluate(w, tree, AS_OF)
        assert ex.terms[0] == {"term": 'tag("肤质", "干性")', "from": "warehouse",
                               "why": "the tag has too many values to index each"}
        assert bm == warehouse_bitmap(w, tree) and len(bm) == 2  # u3, u14
