"""Invariants of the detector (hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from siyu.tags.text import detect

CUE_MESSAGES = [
    "面霜快用完了",
    "太贵了吧",
    "含不含酒精",
    "帮我妈买一瓶",
    "收到的瓶子是破的",
    "太失望了",
]
# padding with no cue, question or negation in it
PADDING = st.lists(
    st.sampled_from(["今天天气很好", "我在上海", "哈哈哈", "昨天下雨", "😊", "OK"]), max_size=3
)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=60))
def test_never_raises_on_arbitrary_unicode(text):
    for h in detect(text):
        assert 0 <= h.span[0] < h.span[1] <= len(text)
        assert text[h.span[0] : h.span[1]] == h.cue


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(CUE_MESSAGES), PADDING, PADDING)
def test_padding_far_from_the_cue_keeps_the_hit(message, before, after):
    want = {h.scenario for h in detect(message)}
    assert want
    text = "。".join([*before, message, *after])
    assert {h.scenario for h in detect(text)} == want


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet="用完了吗没不贵太送帮妈买过敏会含酒精，。？！ 😊", max_size=30))
def test_spans_are_exact_on_cue_heavy_text(text):
    for h in detect(text, include_suppressed=True):
        assert text[h.span[0] : h.span[1]] == h.cue
