"""Chinese text of the demo brand: chat messages, live comments, reviews and survey remarks.

Chat messages come in families so text tagging (C5) has real work: purchase cycle, buying for
others, complaints, price sensitivity, ingredient interest, and hard cases with negations and
questions. A few phrases carry ASCII commas and double quotes on purpose, so CSV and JSONL
writers must quote and escape them.
"""

from __future__ import annotations

import numpy as np

MESSAGE_FAMILIES: dict[str, tuple[str, ...]] = {
    "ordinary": (
        "你好", "在吗？", "请问这款还有货吗？", "发货了吗？", "谢谢", "好的，谢谢！", "收到了,谢谢",
        "这个怎么用？", "请问门店几点关门？", "帮我查一下订单", "多少钱？", "这个价格是多少？",
        "有小样吗？", "我想咨询一下", "能推荐一款适合我的吗？", "混油皮用哪款好？", "明天能到吗？",
        "好的", "嗯嗯", "周末去门店看看", "上次买的很好用", "这个\"小棕瓶\"还有吗？",
        "可以开发票吗？", "麻烦改一下收货地址", "直播什么时候开始？", "新品什么时候上？",
    ),
    "purchase_cycle": (
        "用完了", "面霜快用完了，再来一瓶", "快吃完了", "坚果快吃完了，补一箱", "精华快没了",
        "要补货了", "家里的纸尿裤快没了", "洗发水用完了,老样子再来两瓶",
    ),
    "buying_for_others": (
        "同事问这是什么牌子", "帮朋友买的，能开发票吗？", "送人的，可以包装一下吗？", "想买来送妈妈",
        "闺蜜让我帮她带一套", "同事问这是什么牌子，能给个链接吗？",
    ),
    "complaint": (
        "太慢了，还没发货", "物流太慢了", "质量有问题，瓶子漏了", "要退货", "收到的东西质量有问题",
        "我要退货退款", "客服回复太慢了",
    ),
    "price": (
        "有没有优惠？", "太贵了", "有没有优惠券？", "会员有折扣吗？", "双十一会便宜吗？", "能便宜点吗？",
    ),
    "ingredient": (
        "这款有什么成分？", "会不会过敏？", "孕妇能用吗？", "成分安全吗？", "敏感肌能用吗？", "含酒精吗？",
    ),
    "negation": (
        "还没用完，先不买了", "会不会过敏?", "不是用完了，是想换一款", "还没吃完呢",
        "快用完了吗？我看看", "不要退货，换一个就行", "没有质量问题，就是不太适合我",
    ),
}
"""Chat phrases by scenario family."""

MESSAGE_FAMILY_WEIGHTS: dict[str, float] = {
    "ordinary": 0.70, "purchase_cycle": 0.08, "buying_for_others": 0.05, "complaint": 0.05,
    "price": 0.06, "ingredient": 0.04, "negation": 0.02,
}

COMMENTS: tuple[str, ...] = (
    "主播讲得好", "已下单", "求链接", "这个颜色好看", "有赠品吗", "学到了", "干货满满", "什么时候返场？",
    "已关注", "姐妹们冲", "敏感肌可以用吗？", "价格有点高,等活动",
)
"""Live-room and article comments."""

REVIEWS: dict[int, tuple[str, ...]] = {
    5: ("非常好用，会回购", "包装精美，送人很有面子", "效果很好，皮肤明显变好了", "物流很快，导购服务很贴心",
        "第三次回购了，一如既往的好", "味道好，家里人都爱吃", "宝宝用了没有过敏，放心"),
    4: ("挺好的，性价比不错", "整体满意，就是物流慢了点", "用着还可以,再观察一下效果", "口感不错，就是有点甜"),
    3: ("一般般，没有想象中好", "中规中矩", "效果不明显"),
    2: ("有点失望，包装破损了", "用了有点过敏", "和描述不太一样"),
    1: ("质量太差，要退货", "客服态度不好，不会再买了", "收到就是坏的"),
}
"""Review texts by rating."""

SURVEY_TEXTS: dict[str, tuple[str, ...]] = {
    "nps": ("会推荐给朋友", "产品不错，价格偏高", "服务很好", "发货慢", "导购很专业"),
    "ces": ("操作很方便", "找优惠券入口太麻烦", "退款流程有点复杂", "一步就搞定了"),
    "csat": ("满意", "导购很耐心", "等待时间太长", "回复很及时"),
}


def flatten(families: dict, weights: dict) -> tuple[tuple[str, ...], np.ndarray]:
    """All phrases of ``families`` in one tuple and each phrase's sampling probability
    (a family's weight spread evenly over its phrases)."""
    texts: list[str] = []
    probs: list[float] = []
    for name, phrases in families.items():
        texts.extend(phrases)
        probs.extend([weights[name] / len(phrases)] * len(phrases))
    p = np.array(probs)
    return tuple(texts), p / p.sum()


MESSAGES, MESSAGE_PROBS = flatten(MESSAGE_FAMILIES, MESSAGE_FAMILY_WEIGHTS)
"""Every chat phrase and its probability."""
