"""What consumers say: product reviews after orders and survey answers (NPS, CES, CSAT)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from siyu.demo import arrowtext as at
from siyu.demo import output, phrases, vocab
from siyu.demo.basket import Basket
from siyu.demo.chunks import Chunk
from siyu.demo.keys import MEMBER, PHONE, UNIONID, KeyBook, prefs
from siyu.demo.orders import GIFT, Orders
from siyu.demo.people import Population
from siyu.demo.relationships import Relations
from siyu.demo.timeline import DAY, format_times, uniform_between

REVIEW_SHARE = 0.10
RATING_P = np.array([0.02, 0.03, 0.08, 0.27, 0.60])
REVIEW_TEXT_SHARE = 0.8

SURVEYS_PER_YEAR = 0.08
SURVEY_KINDS = ("nps", "ces", "csat")
SURVEY_KIND_P = (0.40, 0.25, 0.35)
SCORE_P = {
    "nps": np.array([.02, .01, .01, .02, .03, .06, .07, .13, .20, .20, .25]),
    "ces": np.array([.03, .05, .08, .14, .22, .26, .22]),
    "csat": np.array([.03, .05, .12, .35, .45]),
}
SCORE_MIN = {"nps": 0, "ces": 1, "csat": 1}
STEPS = {
    "nps": ("quarterly_nps", "after_purchase"),
    "ces": ("checkout", "refund", "coupon_claim", "customer_service"),
    "csat": ("after_purchase", "customer_service", "store_visit"),
}
SURVEY_TEXT_SHARE = 0.3
SURVEY_PREFS = prefs(MEMBER, UNIONID, PHONE)


def _flat(groups: dict) -> tuple[list[str], dict, dict]:
    texts: list[str] = []
    first, count = {}, {}
    for k, v in groups.items():
        first[k], count[k] = len(texts), len(v)
        texts.extend(v)
    return texts, first, count


def review_table(chunk: Chunk, orders: Orders, basket: Basket, order_ids: pa.Array,
                 order_keys: pa.Array) -> pa.Table:
    rng = chunk.rng("reviews")
    w = chunk.window
    pick = np.flatnonzero((orders.kind != GIFT) & (rng.random(orders.n) < REVIEW_SHARE))
    when = orders.t[pick] + (DAY + rng.random(len(pick)) * 14 * DAY).astype(np.int64)
    keep = when < w.end
    pick, when = pick[keep], when[keep]
    m = len(pick)
    rating = 1 + rng.choice(5, size=m, p=RATING_P)
    texts, first, count = _flat(phrases.REVIEWS)
    f = np.array([first[r] for r in range(1, 6)])[rating - 1]
    c = np.array([count[r] for r in range(1, 6)])[rating - 1]
    text_idx = f + (rng.random(m) * c).astype(np.int64)
    return output.build("reviews", {
        "review_id": at.ids("RV", chunk.index, m),
        "consumer_key": pc.take(order_keys, pa.array(pick)),
        "rating": rating.astype(np.int64),
        "occurred_at": format_times(when),
        "order_id": pc.take(order_ids, pa.array(pick)),
        "sku": at.pick(vocab.SKUS, basket.first_sku[pick]),
        "text": at.pick(texts, text_idx, rng.random(m) < REVIEW_TEXT_SHARE),
    }, m)


def survey_table(chunk: Chunk, pop: Population, rel: Relations, kb: KeyBook) -> pa.Table:
    rng = chunk.rng("surveys")
    w = chunk.window
    lo = np.maximum(pop.reg, w.start)
    years = (w.end - lo) / (365.0 * DAY)
    rate = SURVEYS_PER_YEAR * np.where(rel.private, 1.5, 0.5)
    cons = np.repeat(np.arange(pop.n), rng.poisson(rate * years))
    m = len(cons)
    kind = rng.choice(3, size=m, p=SURVEY_KIND_P)
    score = np.zeros(m)
    step_names: list[str] = []
    step = np.zeros(m, dtype=np.int64)
    text_names, text_first, text_count = _flat(phrases.SURVEY_TEXTS)
    text = np.zeros(m, dtype=np.int64)
    for k, name in enumerate(SURVEY_KINDS):
        rows = np.flatnonzero(kind == k)
        score[rows] = SCORE_MIN[name] + rng.choice(len(SCORE_P[name]), size=len(rows),
                                                   p=SCORE_P[name])
        step[rows] = len(step_names) + rng.integers(0, len(STEPS[name]), len(rows))
        step_names.extend(STEPS[name])
        text[rows] = text_first[name] + rng.integers(0, text_count[name], len(rows))
    return output.build("surveys", {
        "response_id": at.ids("SV", chunk.index, m),
        "consumer_key": kb.keys_for(rng, cons, np.broadcast_to(SURVEY_PREFS, (m, 8))),
        "kind": at.pick(SURVEY_KINDS, kind),
        "score": score,
        "occurred_at": format_times(uniform_between(lo[cons], np.full(m, w.end), rng)),
        "step": at.pick(step_names, step),
        "text": at.pick(text_names, text, rng.random(m) < SURVEY_TEXT_SHARE),
    }, m)
