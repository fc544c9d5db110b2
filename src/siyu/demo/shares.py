"""Shares of brand content and the referee orders they bring (propagation, DOMAIN §5).

Engaged private consumers (members more) share products, articles, live sessions and videos.
``CONVERT_SHARE`` of shares bring one order by another consumer of the chunk; ``WITHIN_SHARE``
of those fall inside the 7-day attribution window (< 6.9 days after the share), the rest
7.1–30 days after it, outside the window.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from siyu.demo import arrowtext as at
from siyu.demo import output, vocab
from siyu.demo.chunks import Chunk
from siyu.demo.keys import (
    DOUYIN,
    MEMBER,
    OPENID,
    PHONE,
    UNIONID,
    WECOM,
    KeyBook,
    prefs,
    rank_table,
)
from siyu.demo.people import Population
from siyu.demo.relationships import LIVE, MEMBERSHIP, MP, OA, REL_FIELDS, VC, Relations
from siyu.demo.timeline import DAY, format_dates, format_times, uniform_between

SHARES_PER_YEAR = 0.35
CONVERT_SHARE = 0.30
WITHIN_SHARE = 0.80
SHARE_FIELDS = np.array([MP, OA, LIVE, VC])
SHARE_FIELD_P = (0.45, 0.25, 0.15, 0.15)
CONTENT_TYPES = ("product", "article", "live", "video", "coupon")
COUPON_CONTENT = ("TPL-NEW-10", "TPL-20-199", "TPL-MEM-15")
SHARE_PREFS = rank_table({
    MP: prefs(OPENID, UNIONID, WECOM, MEMBER, PHONE),
    OA: prefs(UNIONID, OPENID, WECOM),
    LIVE: prefs(UNIONID, DOUYIN, OPENID),
    VC: prefs(UNIONID, DOUYIN, WECOM),
}, len(REL_FIELDS))


@dataclass
class Shares:
    cons: np.ndarray
    t: np.ndarray
    field: np.ndarray
    ids: pa.Array
    referee: np.ndarray
    """Referee orders: consumer, instant, and index of the share."""
    referee_t: np.ndarray
    referee_share: np.ndarray


def private_span(rel: Relations, w) -> tuple[np.ndarray, np.ndarray]:
    """Per consumer the part of the window spent in the private domain (lo ≥ hi: none)."""
    lo = np.maximum(rel.first_start(), w.start)
    last = np.where(rel.has, rel.E, 0).max(axis=1)
    hi = np.minimum(last, w.end)
    return lo, np.where(rel.private, hi, lo)


def build_shares(chunk: Chunk, pop: Population, rel: Relations) -> Shares:
    rng = chunk.rng("shares")
    w = chunk.window
    lo, hi = private_span(rel, w)
    years = np.maximum(hi - lo, 0) / (365.0 * DAY)
    rate = SHARES_PER_YEAR * pop.engage * (1 + 0.8 * rel.has[:, MEMBERSHIP])
    count = rng.poisson(rate * years)
    cons = np.repeat(np.arange(pop.n), count)
    t = uniform_between(lo[cons], hi[cons], rng)
    field = SHARE_FIELDS[rng.choice(len(SHARE_FIELDS), size=len(cons), p=SHARE_FIELD_P)]
    ids = at.ids("SH", chunk.index, len(cons))

    conv = np.flatnonzero(rng.random(len(cons)) < CONVERT_SHARE)
    inside = rng.random(len(conv)) < WITHIN_SHARE
    delay = np.where(inside, np.minimum(rng.exponential(1.5 * DAY, len(conv)), 6.9 * DAY),
                     (7.1 + rng.random(len(conv)) * 22.9) * DAY).astype(np.int64)
    when = t[conv] + delay
    referee = np.full(len(conv), -1, dtype=np.int64)
    for _ in range(3):  # a referee already registered when ordering, not the sharer
        cand = rng.integers(0, pop.n, len(conv))
        ok = (referee < 0) & (cand != cons[conv]) & (pop.reg[cand] <= when)
        referee = np.where(ok, cand, referee)
    keep = (referee >= 0) & (when < w.end)
    return Shares(cons, t, field, ids, referee[keep], when[keep], conv[keep])


def share_table(sh: Shares, kb: KeyBook, chunk: Chunk) -> pa.Table:
    rng = chunk.rng("share-rows")
    m = len(sh.cons)
    ctype = np.select([sh.field == OA, sh.field == LIVE, sh.field == VC], [1, 2, 3], 0)
    ctype = np.where((ctype == 0) & (rng.random(m) < 0.2), 4, ctype)
    zipf = rng.random(m) ** 2
    content = np.zeros(m, dtype=np.int64)
    for k, kind in ((0, "product"), (1, "article"), (3, "video")):
        a, b = vocab.CONTENT_RANGES[kind]
        rows = ctype == k
        content[rows] = a + (zipf[rows] * (b - a)).astype(np.int64)
    content_id = at.pick(vocab.CONTENT_IDS, content)
    live_id = at.concat("live-", format_dates(sh.t))
    coupon_id = at.pick(COUPON_CONTENT, rng.integers(0, len(COUPON_CONTENT), m))
    content_id = pc.if_else(pa.array(ctype == 2), live_id, content_id)
    content_id = pc.if_else(pa.array(ctype == 4), coupon_id, content_id)
    return output.build("shares", {
        "share_id": sh.ids,
        "consumer_key": kb.keys_for(rng, sh.cons, SHARE_PREFS[sh.field]),
        "occurred_at": format_times(sh.t),
        "content_type": at.pick(CONTENT_TYPES, ctype),
        "content_id": content_id,
        "field": at.pick(REL_FIELDS, sh.field),
    }, m)

