"""Length-preserving text normalisation before segmentation: typos, homophones, variants.

Chat text spells the same word many ways: internet homophones (木有 → 没有, 肿么 → 怎么), the
coupon typo 劵 → 券, traditional characters (退貨 → 退货), Cantonese function words (冇 → 没,
咗 → 了, 佢 → 他, 唔係 → 不是), full-width letters and digits
(ＳＢ, １２３１５, full-width ！？，) and upper case (Refund). :func:`normalize` maps each of them to the form the
lexicon uses. Every replacement has the same length as what it replaces, so character offsets
in the normalised text are offsets in the original: hit spans and cues still quote the
consumer's own words.

>>> normalize("肿么还木有發貨？Refund！")
'怎么还没有发货?refund!'
>>> len(normalize("ＳＢ客服")) == len("ＳＢ客服")
True
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace

from siyu.tags.text.lexicon import Lexicon

__all__ = ["normalize", "normalize_lexicon"]

# two-character internet spellings and homophone typos -> the standard word (same length)
HOMOPHONES = {
    "木有": "没有",
    "肿么": "怎么",
    "神马": "什么",
    "灰常": "非常",
    "盆友": "朋友",
    "酱紫": "这样",
    "优惠卷": "优惠券",
    "代金卷": "代金券",
    "有木有": "有没有",
    "是木是": "是不是",
    "表酱紫": "别这样",
    # internet homophones of words the lexicon uses
    "童鞋": "同学",
    "集美": "姐妹",
    "蓝瘦": "难受",
    "桑心": "伤心",
    "辣么": "那么",
    "介么": "这么",
    "介个": "这个",
    "退宽": "退款",
    "气s": "气死",
    # Cantonese two-character forms (粤语)
    "乜嘢": "什么",
    "是咪": "是否",  # 係咪 (係 → 是 first)
    "系咪": "是否",
    "唔是": "不是",  # 唔係
    "唔系": "不是",
    "唔好": "不好",
    "咁贵": "太贵",
    "真系": "真是",
}

# one character -> one character: traditional forms common in chat, the 劵 typo
_SINGLE = dict(
    zip(
        "劵貨過價買賣氣費錢優禮給們這個麼沒還發東說問題應對壞質膚劑極為學愛後點幫媽寶兒開關處誰"
        "讓難實務態頭臉癢紅腫漲團滿減額運郵遞訴評換錯壓斷罵騙滾無語瘋嗎聽見試種餘盡該購補續隻總"
        "與從會來經現樣裡裏嗚垃圾們這嗎囉喲啦嘛吧哦啊呀呢吶務產廠質擊潔膠蟲碼號盒瓶罐隻張條件"
        # Cantonese function words: 冇 没, 咗 了, 嘅 的, 哋 们, 佢 他, 喺 在, 俾 给, 嚟 来, 係 是
        "冇咗嘅哋佢喺俾嚟係",
        "券货过价买卖气费钱优礼给们这个么没还发东说问题应对坏质肤剂极为学爱后点帮妈宝儿开关处谁"
        "让难实务态头脸痒红肿涨团满减额运邮递诉评换错压断骂骗滚无语疯吗听见试种余尽该购补续只总"
        "与从会来经现样里里呜垃圾们这吗啰哟啦嘛吧哦啊呀呢呐务产厂质击洁胶虫码号盒瓶罐只张条件"
        "没了的们他在给来是",
        strict=True,
    )
)
_TABLE = {ord(k): v for k, v in _SINGLE.items() if k != v}
_TABLE.update({c + 0xFEE0: chr(c).lower() for c in range(0x21, 0x7F)})  # full-width ASCII
_TABLE.update({ord(c): c.lower() for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"})
_TABLE[0x3000] = " "  # ideographic space

# 木有 only where it is not wood (实木有, 红木有…)
_WORDS = re.compile(
    "|".join(
        ("(?<![实红原樟松桃檀橡楠柚杉])" if w.startswith("木") else "") + re.escape(w)
        for w in sorted(HOMOPHONES, key=len, reverse=True)
    )
)


def normalize(text: str) -> str:
    """``text`` with variants mapped to standard forms; the result has the same length."""
    out = text.translate(_TABLE)
    if _WORDS.search(out) is None:
        return out
    return _WORDS.sub(lambda m: HOMOPHONES[m.group(0)], out)


def _pattern(p: str) -> str:
    """A pattern with its word parts normalised (regex parts, gaps and classes kept)."""
    return " ".join(x if x.startswith("/") else normalize(x) for x in p.split())


def normalize_lexicon(lex: Lexicon) -> Lexicon:
    """``lex`` with every word normalised like the text it is matched against."""

    def words(ws: Iterable[str]) -> frozenset[str]:
        return frozenset(normalize(w) for w in ws)

    scenarios = {
        n: replace(
            s,
            cues=tuple(dict.fromkeys(normalize(c) for c in s.cues)),
            patterns=tuple(_pattern(p) for p in s.patterns),
            blockers=words(s.blockers),
            exceptions=tuple(dict.fromkeys(normalize(e) for e in s.exceptions)),
            when_negated=tuple(dict.fromkeys(normalize(w) for w in s.when_negated)),
        )
        for n, s in lex.scenarios.items()
    }
    return replace(
        lex,
        scenarios=scenarios,
        words={k: words(v) for k, v in lex.words.items()},
        classes={k: words(v) for k, v in lex.classes.items()},
    )
