"""Phrasings the detector must handle beyond its first lexicon: spelling variants, glued
tokens, word-class patterns, and the cheap checks that must never change a result."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from siyu.tags.text import Detector, detect, load_dataset, load_lexicon
from siyu.tags.text.normalize import normalize


def scenarios(text: str) -> set[str]:
    return {h.scenario for h in detect(text)}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("肿么还木有发货", "怎么还没有发货"),  # internet homophones
        ("有木有优惠卷", "有没有优惠券"),  # and the coupon typo
        ("退貨退款", "退货退款"),  # traditional characters
        ("ＳＢ客服！", "sb客服!"),  # full-width letters and punctuation, lower case
        ("Refund", "refund"),
        ("实木有点重", "实木有点重"),  # 木有 inside 实木有… is wood, not 没有
    ],
)
def test_normalize_maps_variants_and_keeps_length(text, expected):
    assert normalize(text) == expected
    assert len(normalize(text)) == len(text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_normalize_keeps_length_and_is_idempotent(text):
    once = normalize(text)
    assert len(once) == len(text)
    assert normalize(once) == once


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("肿么还没发货", {"complaint"}),
        ("我要退貨", {"complaint"}),
        ("REFUND怎么申请", {"complaint"}),
        ("ＳＢ客服", {"anger"}),
        ("优惠劵怎么领", {"price_sensitive"}),
        ("面膜木有了，再给我发两盒", {"cycle_due"}),
        # a cue of one scenario glued to a pattern word of another: 太离谱 → 太 / 离谱
        ("价格太离谱了", {"price_sensitive", "anger"}),
        # word classes: {part} * {broken}, {hitv}{ruined}, {kin} * 点名要, {age} * 能吃
        ("瓶盖松了，洒了一地", {"complaint"}),
        ("快递把盒子压烂了", {"complaint"}),
        ("老婆大人点名要这个", {"buying_for_others"}),
        ("三岁能吃吗", {"ingredient_interest"}),
        ("猫粮告急了", {"cycle_due"}),
        ("客服一直不回复", {"complaint"}),
        ("这价格有点高攀不起", {"price_sensitive"}),
        ("你们脑子是不是有问题", {"anger"}),
        ("没有想象中那么好用", {"disappointment"}),
    ],
)
def test_new_phrasings_are_found(text, expected):
    assert scenarios(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "贵公司地址在哪",  # 贵 as an honorific
        "垃圾分类要怎么扔包装",
        "这瓶还剩一半，别急",
        "我是干皮",  # a skin type alone is no question about ingredients
        "维生素吃完了要续上",  # cycle_due only: a product name is no ingredient interest
        "不打算回购了",  # disappointment, not cycle_due
    ],
)
def test_near_misses_stay_out(text):
    found = scenarios(text)
    assert "price_sensitive" not in found and "anger" not in found
    assert "ingredient_interest" not in found
    assert "cycle_due" not in found or text == "维生素吃完了要续上"


def test_a_hit_quotes_the_original_text_not_the_normalised_one():
    text = "肿么还没發貨"
    (hit,) = detect(text)
    assert hit.scenario == "complaint"
    assert hit.cue == text[hit.span[0] : hit.span[1]] == "还没發貨"


def test_kin_word_inside_an_expletive_is_not_anger():
    # 我妈的 is "my mother's", not the expletive 妈的
    assert scenarios("我妈的生日快到了，有什么推荐") == {"buying_for_others"}


def test_tail_check_only_prunes():
    """The regex check on a pattern's last literal part never changes a result."""
    fast = Detector(load_lexicon())
    slow = Detector(load_lexicon())
    slow.patterns = [dataclasses.replace(p, tail=None) for p in slow.patterns]
    for row in load_dataset():
        a = fast.detect(row["text"], include_suppressed=True)
        assert a == slow.detect(row["text"], include_suppressed=True), row["id"]
