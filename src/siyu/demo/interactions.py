"""Interactions: visits, content views, clicks, likes, chat messages, live watching…

Each active relationship produces interactions at a per-field daily rate scaled by the
consumer's ``engage``; the type mix follows the field (guides send messages, live rooms are
watched…). Anyone, private or not, also visits the mini-program, the flagship store and the live
room now and then, so field gravity (§6 Connection) has visitors outside the private domain.
Guide and customer-service messages are read (``message_read``) ~65 % of the time within hours.
Consumer chat text is drawn from ``phrases.MESSAGE_FAMILIES``.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from siyu.demo import arrowtext as at
from siyu.demo import output, phrases, vocab
from siyu.demo.chunks import Chunk
from siyu.demo.keys import FIELD_PREFS, KeyBook
from siyu.demo.people import Population
from siyu.demo.relationships import (
    CS,
    GROUP,
    GUIDE,
    LIVE,
    MEMBERSHIP,
    MP,
    OA,
    REL_FIELDS,
    SHOP,
    VC,
    Relations,
)
from siyu.demo.timeline import DAY, HOUR, format_dates, format_times, uniform_between
from siyu.schema import INTERACTION_TYPES

PER_DAY = np.array([0.004, 0.016, 0.018, 0.010, 0.018, 0.008, 0.012, 0.012, 0.006])
"""Interactions per active relationship-day by ``REL_FIELDS``."""
PUBLIC_PER_DAY = 0.004
PUBLIC_FIELDS = (MP, SHOP, LIVE)
PUBLIC_FIELD_P = (0.5, 0.35, 0.15)
READ_SHARE = 0.65

T = {name: i for i, name in enumerate(INTERACTION_TYPES)}
TYPE_MIX: dict[int, dict[str, float]] = {
    MEMBERSHIP: {"checkin": 0.7, "visit": 0.3},
    GUIDE: {"message_sent": 0.45, "message": 0.30, "click": 0.15, "view": 0.10},
    GROUP: {"message": 0.40, "message_sent": 0.20, "like": 0.10, "checkin": 0.15, "click": 0.10,
            "view": 0.05},
    OA: {"view": 0.60, "click": 0.25, "like": 0.10, "comment": 0.05},
    MP: {"visit": 0.35, "view": 0.25, "click": 0.12, "add_cart": 0.10, "search": 0.10,
         "like": 0.03, "checkin": 0.05},
    SHOP: {"visit": 0.50, "view": 0.30, "add_cart": 0.15, "search": 0.05},
    LIVE: {"live_watch": 0.60, "like": 0.20, "comment": 0.12, "click": 0.08},
    CS: {"message": 0.55, "message_sent": 0.45},
    VC: {"view": 0.60, "like": 0.25, "comment": 0.10, "click": 0.05},
}
PUBLIC_MIX: dict[int, dict[str, float]] = {
    MP: {"visit": 0.6, "view": 0.4}, SHOP: {"visit": 0.6, "view": 0.4}, LIVE: {"live_watch": 1.0},
}
ARTICLE, VIDEO, PRODUCT = (vocab.CONTENT_RANGES[k] for k in ("article", "video", "product"))


def _types(rng, field: np.ndarray, mix: dict) -> np.ndarray:
    out = np.zeros(len(field), dtype=np.int64)
    for f, shares in mix.items():
        rows = np.flatnonzero(field == f)
        codes = np.array([T[k] for k in shares])
        p = np.array(list(shares.values()))
        out[rows] = codes[rng.choice(len(codes), size=len(rows), p=p / p.sum())]
    return out


def _content(rng, field: np.ndarray, type_: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Content index into ``vocab.CONTENT_IDS`` and whether the row has one."""
    m = len(field)
    zipf = rng.random(m) ** 2

    def within(rng_: tuple[int, int]) -> np.ndarray:
        return rng_[0] + (zipf * (rng_[1] - rng_[0])).astype(np.int64)

    view = type_ == T["view"]
    click = type_ == T["click"]
    article = (view & ((field == OA) | (((field == GUIDE) | (field == GROUP))
                                        & (rng.random(m) < 0.5))))
    video = view & (field == VC)
    idx = np.select([article, video], [within(ARTICLE), within(VIDEO)], within(PRODUCT))
    return idx, view | click


def interaction_table(chunk: Chunk, pop: Population, rel: Relations, kb: KeyBook) -> pa.Table:
    rng = chunk.rng("interactions")
    w = chunk.window
    n = pop.n
    lo = np.maximum(rel.S, w.start)
    hi = np.minimum(rel.E, w.end)
    days = np.where(rel.has & (hi > lo), hi - lo, 0) / DAY
    counts = rng.poisson(PER_DAY * pop.engage[:, None] * days)
    cons = np.repeat(np.repeat(np.arange(n), len(REL_FIELDS)), counts.ravel())
    field = np.repeat(np.tile(np.arange(len(REL_FIELDS)), n), counts.ravel())
    t = uniform_between(lo[cons, field], hi[cons, field], rng)
    type_ = _types(rng, field, TYPE_MIX)

    p_lo = np.maximum(pop.reg, w.start)
    p_cons = np.repeat(np.arange(n), rng.poisson(PUBLIC_PER_DAY * (w.end - p_lo) / DAY))
    p_field = np.array(PUBLIC_FIELDS)[rng.choice(len(PUBLIC_FIELDS), size=len(p_cons),
                                                 p=PUBLIC_FIELD_P)]
    p_t = uniform_between(p_lo[p_cons], np.full(len(p_cons), w.end), rng)
    p_type = _types(rng, p_field, PUBLIC_MIX)

    sent = np.flatnonzero(((field == GUIDE) | (field == CS)) & (type_ == T["message_sent"]))
    read = sent[rng.random(len(sent)) < READ_SHARE]
    r_t = t[read] + (rng.exponential(6 * HOUR, len(read))).astype(np.int64) + 30
    ok = r_t < w.end
    read, r_t = read[ok], r_t[ok]

    cons = np.concatenate([cons, p_cons, cons[read]])
    field = np.concatenate([field, p_field, field[read]])
    t = np.concatenate([t, p_t, r_t])
    type_ = np.concatenate([type_, p_type, np.full(len(read), T["message_read"])])
    order = np.argsort(t, kind="stable")
    cons, field, t, type_ = cons[order], field[order], t[order], type_[order]
    return _rows(chunk, rng, rel, kb, cons, field, t, type_)


def _rows(chunk, rng, rel: Relations, kb: KeyBook, cons, field, t, type_) -> pa.Table:
    m = len(cons)
    content, has_content = _content(rng, field, type_)
    live = type_ == T["live_watch"]
    content_id = at.pick(vocab.CONTENT_IDS, content, has_content & ~live)
    if live.any():
        live_id = at.concat("live-", format_dates(t))
        content_id = pc.if_else(pa.array(live), live_id, content_id)
    view = type_ == T["view"]
    dwell = np.where(view, np.exp(rng.normal(3.7, 0.9, m)).clip(1, 3600),
                     np.exp(rng.normal(6.4, 1.0, m)).clip(10, 14400)).astype(np.int64)
    message = type_ == T["message"]
    comment = type_ == T["comment"]
    msg = rng.choice(len(phrases.MESSAGES), size=m, p=phrases.MESSAGE_PROBS)
    com = len(phrases.MESSAGES) + rng.integers(0, len(phrases.COMMENTS), m)
    text = at.pick(phrases.MESSAGES + phrases.COMMENTS, np.where(comment, com, msg),
                   message | comment)
    return output.build("interactions", {
        "event_id": at.ids("I", chunk.index, m),
        "consumer_key": kb.keys_for(rng, cons, FIELD_PREFS[field]),
        "field": at.pick(REL_FIELDS, field),
        "type": at.pick(INTERACTION_TYPES, type_),
        "occurred_at": format_times(t),
        "field_ref": at.pick(rel.refs, rel.ref_index(field, cons, t)),
        "content_id": content_id,
        "dwell_seconds": pa.array(dwell, mask=~(view | live)),
        "text": text,
    }, m)
