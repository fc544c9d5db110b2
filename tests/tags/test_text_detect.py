"""Chat scenario and emotion detection on hand-written messages (issue 5, part 2)."""

from __future__ import annotations

import pytest

from siyu.tags.text import detect, detect_many


def scenarios(text: str) -> set[str]:
    return {h.scenario for h in detect(text)}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("面霜快用完了，这周得再下一单", {"cycle_due"}),
        ("家里的燕麦片吃完了", {"cycle_due"}),
        ("咖啡豆只剩最后一点了", {"cycle_due"}),
        ("我在办公室喝的时候同事过来问这是什么牌子", {"buying_for_others"}),
        ("帮我妈买一瓶，她也想试试", {"buying_for_others"}),
        ("想送闺蜜当生日礼物", {"buying_for_others"}),
        ("收到的瓶子是破的，漏了一地", {"complaint"}),
        ("用了两天脸上起疹子", {"complaint"}),
        ("太贵了吧", {"price_sensitive"}),
        ("有没有优惠券", {"price_sensitive"}),
        ("含不含酒精", {"ingredient_interest"}),
        ("烟酰胺浓度多少", {"ingredient_interest"}),
        ("垃圾产品", {"anger", "complaint"}),
        ("太失望了，白买了", {"disappointment"}),
        ("面霜快用完了，有没有优惠？", {"cycle_due", "price_sensitive"}),
    ],
)
def test_scenarios_found(text, expected):
    assert scenarios(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "还没用完呢",  # negated cycle cue
        "还没有用完，用得很省",
        "没有过敏，用着挺好",  # negated complaint cue
        "不贵，挺值的",  # negated price cue
        "价格还可以，不算贵",
        "一点也不后悔",
        "我没生气，就问问",
        "用完了吗？",  # a question: not the consumer saying it is used up
        "您的精华是不是快用完了？",
        "等用完了再说吧",  # a scenario-specific blocker
        "不是送人，自己喝",
        "用了一个月没长痘，开心",  # a negator inside a pattern's gap
        "好的谢谢",
    ],
)
def test_negations_and_questions_are_not_hits(text):
    assert scenarios(text) == set()


def test_question_about_allergy_is_ingredient_interest_not_complaint():
    assert scenarios("会不会过敏?") == {"ingredient_interest"}
    assert scenarios("敏感肌用了会不会刺痛") == {"ingredient_interest"}
    assert scenarios("用了就过敏，脸都肿了") == {"complaint"}


def test_negative_question_keeps_the_hit():
    # "不含酒精吧?" still asks about an ingredient; the negator does not cancel a question
    assert scenarios("不含酒精吧？") == {"ingredient_interest"}


def test_hit_fields_span_and_explain():
    text = "面霜快用完了"
    [hit] = detect(text)
    assert hit.scenario == "cycle_due" and hit.kind == "scenario"
    assert hit.cue == "快用完了"
    assert text[hit.span[0] : hit.span[1]] == hit.cue == "快用完了"
    assert not hit.negated and not hit.questioned
    assert "快用完了" in hit.explain and "cycle_due" in hit.explain


def test_suppressed_hits_are_explained_on_request():
    assert detect("还没用完呢") == []
    (hit,) = [
        h for h in detect("并不太贵", include_suppressed=True) if h.scenario == "price_sensitive"
    ]
    assert hit.negated and "negated by" in hit.explain
    (q,) = detect("用完了吗？", include_suppressed=True)
    assert q.questioned and "dropped" in q.explain


def test_emotion_kind_and_intensity():
    [hit] = [h for h in detect("气死我了！！") if h.scenario == "anger"]
    assert hit.kind == "emotion"
    assert hit.intensity > 1
    [calm] = [h for h in detect("有点生气") if h.scenario == "anger"]
    assert calm.intensity < hit.intensity


def test_detect_many_matches_detect():
    texts = ["快吃完了", "好的", "快吃完了", "", "太贵了"]
    assert detect_many(texts) == [detect(t) for t in texts]
