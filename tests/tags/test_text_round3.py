"""Round 3 of the chat detector: Cantonese and slang forms, modal verbs glued to a cue, words
that count only when negated, rhetorical double negation, English phrases of several words,
and the near-misses each new class must leave alone."""

from __future__ import annotations

import pytest

from siyu.tags.text import LexiconError, detect, detector_for, evaluate, load_lexicon
from siyu.tags.text.normalize import normalize


def scenarios(text: str, lex=None) -> set[str]:
    return {h.scenario for h in detect(text, lex)}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("帮佢落单", "帮他落单"),  # Cantonese function words, one character each
        ("屋企冇晒喇", "屋企没晒喇"),
        ("洗咗一次", "洗了一次"),
        ("你哋係咪玩我", "你们是否玩我"),  # two-character forms (same length)
        ("童鞋问我", "同学问我"),  # internet homophone
    ],
)
def test_normalize_cantonese_and_homophones(text, expected):
    assert normalize(text) == expected
    assert len(normalize(text)) == len(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Cantonese
        ("屋企啲纸巾用晒喇，快啲寄过嚟", {"cycle_due"}),
        ("扑街，搞乜鬼", {"anger"}),
        ("帮我mum落一单", {"buying_for_others"}),
        # slang verbs of eating in the {consume} class
        ("零食早就被我炫完了", {"cycle_due"}),
        # a modal verb glued to a one-character word: 想送 → 想 / 送, 能免 → 能 / 免
        ("想送婆婆一套护肤", {"buying_for_others"}),
        ("运费能免了不", {"price_sensitive"}),
        # English phrases of several tokens
        ("this price is too expensive", {"price_sensitive"}),
        ("味道so so", {"disappointment"}),
        # word classes added this round: {ingr}, {fail}, {before}, {shop}
        ("想要不含香精的沐浴露", {"ingredient_interest"}),
        ("拉链拉两下就卡死", {"complaint"}),
        ("新一批不如上一批好吃", {"disappointment"}),
        ("京东才79，你们家卖99", {"price_sensitive"}),
        # groups of recipients
        ("办公室一人一盒", {"buying_for_others"}),
        ("这两瓶寄我爸单位", {"buying_for_others"}),
    ],
)
def test_round3_phrasings_are_found(text, expected):
    assert scenarios(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "刚才消息发错人了，抱歉",  # 发错 of one's own message
        "一开始以为坏了，原来是没开电源",  # 以为 … blocks a complaint
        "会员积分怎么查",  # points alone are no discount
        "这两个精华能叠加着用吗",  # layering skincare, not stacking coupons
        "比想象中好用，惊喜",  # 想象中 alone is no disappointment
        "包装很严实，一点都没压坏",  # 一点都没 negates
        "客服态度超好",  # 态度 alone is no complaint
        "便宜的那款和贵的那款区别在哪",  # naming two products by price
        "这个价格挺合理的",
        "家里没有人在，快递放驿站吧",  # 家里 … 没有 not at the end of the clause
        "我回购第五次了，真心好用",  # a repurchase count, not a due supply
        "衣服挂出来晾一下就没味了",
        "很满意",  # a when_negated word without a negator
    ],
)
def test_round3_near_misses_stay_out(text):
    assert scenarios(text) == set()


def test_when_negated_words_count_only_when_negated():
    assert scenarios("并不是很满意") == {"disappointment"}
    assert scenarios("满意吗") == set()
    assert scenarios("价格不太亲民") == {"price_sensitive"}
    assert scenarios("价格很亲民") == set()
    # 便宜 is a cue and a when_negated word: it hits negated or not
    assert scenarios("一点也不便宜") == {"price_sensitive"}
    assert scenarios("能便宜点吗") == {"price_sensitive"}
    (hit,) = detect("并不是很满意")
    assert not hit.negated and 'negated "并不": counts' in hit.explain


def test_rhetorical_double_negation_keeps_the_hit():
    assert scenarios("怎么可能不生气") == {"anger"}
    assert scenarios("我不生气") == set()
    (hit,) = detect("我不生气", include_suppressed=True)
    assert hit.negated


def test_modal_split_keeps_tokens_concatenating_to_the_text():
    det = detector_for()
    for text in ("想送婆婆一套护肤", "运费能免了不", "我想要这个", "还要多久"):
        toks = det.seg.tokens(normalize(text))
        assert "".join(toks) == normalize(text)
    assert det.seg.tokens("想送婆婆")[:2] == ["想", "送"]
    assert det.seg.tokens("我想要这个") == ["我", "想要", "这个"]  # 要 is no lexicon word


def test_brand_file_when_negated_and_double_negation(tmp_path):
    path = tmp_path / "brand.toml"
    path.write_text(
        """
[words]
double_negation = ["谁说"]

[scenarios.disappointment]
when_negated = ["好闻"]
""",
        encoding="utf-8",
    )
    lex = load_lexicon(path)
    assert scenarios("一点都不好闻", lex) == {"disappointment"}
    assert scenarios("很好闻", lex) == set()
    assert scenarios("谁说不生气", lex) == {"anger"}
    assert scenarios("一点都不好闻") == set()  # the built-in lexicon is untouched


def test_bad_when_negated_names_the_key(tmp_path):
    path = tmp_path / "brand.toml"
    path.write_text('[scenarios.anger]\nwhen_negated = "忍"\n', encoding="utf-8")
    with pytest.raises(LexiconError, match=r"scenarios\.anger\.when_negated\] must be a list"):
        load_lexicon(path)


def test_origins_are_reported_separately():
    rows = [
        {"id": "1", "text": "快用完了", "labels": ["cycle_due"], "split": "dev", "origin": "b"},
        {"id": "2", "text": "好的", "labels": ["cycle_due"], "split": "dev", "origin": "b"},
        {"id": "3", "text": "太贵了", "labels": ["price_sensitive"], "split": "holdout"},
    ]
    r = evaluate(rows)
    assert set(r["origins"]) == {"b"}
    b = r["origins"]["b"]
    assert b["messages"] == 2
    assert b["scenarios"]["cycle_due"] | {} == {
        "precision": 1.0, "recall": 0.5, "f1": 0.6667, "support": 2, "tp": 1, "fp": 0, "fn": 1,
    }  # fmt: skip
    assert b["micro"]["tp"] == 1 and r["micro"]["tp"] == 2


def test_bad_origin_is_rejected_with_its_line(tmp_path):
    path = tmp_path / "set.jsonl"
    path.write_text(
        '{"text": "好", "labels": []}\n{"text": "快用完了", "labels": [], "origin": 3}\n',
        encoding="utf-8",
    )
    with pytest.raises(LexiconError, match=r"set\.jsonl:2: \"origin\" must be a string"):
        evaluate(path)
