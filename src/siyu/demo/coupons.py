"""Coupons through their life: issued → claimed → redeemed on an order, or expired.

A share of claimed coupons bring an order of their own (``orders.COUPON_PULL``). A claimed
coupon is redeemed on the consumer's next order placed before it expires when that order reaches
the threshold (and carries no other coupon); the order's amount is then the basket total minus
the face value. Unredeemed coupons expire at the end of their validity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from siyu.demo import arrowtext as at
from siyu.demo import output
from siyu.demo.arrays import gather
from siyu.demo.basket import Basket
from siyu.demo.chunks import Chunk
from siyu.demo.keys import MEMBER, OPENID, PHONE, UNIONID, KeyBook, prefs
from siyu.demo.orders import GIFT, Orders
from siyu.demo.people import Population
from siyu.demo.relationships import MEMBERSHIP, Relations
from siyu.demo.shares import private_span
from siyu.demo.timeline import DAY, NEVER, format_times, uniform_between

TEMPLATES: tuple[tuple[str, int, int, int, float], ...] = (
    # template id, face value (cents), threshold (cents), validity (days), share
    ("TPL-NEW-10", 1000, 9900, 30, 0.25),
    ("TPL-20-199", 2000, 19900, 14, 0.25),
    ("TPL-50-399", 5000, 39900, 14, 0.15),
    ("TPL-MEM-15", 1500, 12900, 30, 0.20),
    ("TPL-BDAY-30", 3000, 15900, 30, 0.15),
)
_FACE = np.array([t[1] for t in TEMPLATES])
_THRESHOLD = np.array([t[2] for t in TEMPLATES])
_VALID = np.array([t[3] for t in TEMPLATES]) * DAY
_SHARE = np.array([t[4] for t in TEMPLATES])

ISSUED_PER_YEAR = 0.5
CLAIM_SHARE = 0.7
COUPON_PREFS = prefs(MEMBER, UNIONID, OPENID, PHONE)
ACTIONS = ("issued", "claimed", "redeemed", "expired")


@dataclass
class Coupons:
    cons: np.ndarray
    template: np.ndarray
    issued: np.ndarray
    claimed: np.ndarray
    """``NEVER`` when not claimed (in the window)."""
    expires: np.ndarray
    ids: pa.Array
    order: np.ndarray | None = None
    """Order the coupon was redeemed on (-1: none); set by ``redeem``."""
    order_coupon: np.ndarray | None = None
    """Per order: the coupon redeemed on it (-1: none)."""
    discount: np.ndarray | None = None
    """Per order: discount in cents."""

    @property
    def threshold(self) -> np.ndarray:
        return _THRESHOLD[self.template]


def issue_coupons(chunk: Chunk, pop: Population, rel: Relations) -> Coupons:
    """Coupons issued to consumers in the window, and when they are claimed and expire."""
    rng = chunk.rng("coupons")
    w = chunk.window
    lo, hi = private_span(rel, w)
    public = ~rel.private
    lo = np.where(public, np.maximum(pop.reg, w.start), lo)
    hi = np.where(public, w.end, hi)
    years = np.maximum(hi - lo, 0) / (365.0 * DAY)
    rate = ISSUED_PER_YEAR * np.where(public, 0.1, 1 + rel.has[:, MEMBERSHIP])
    cons = np.repeat(np.arange(pop.n), rng.poisson(rate * years))
    k = len(cons)
    template = rng.choice(len(TEMPLATES), size=k, p=_SHARE / _SHARE.sum())
    issued = uniform_between(lo[cons], hi[cons], rng)
    expires = issued + _VALID[template]
    claimed = issued + rng.exponential(0.5 * DAY, k).astype(np.int64) + 1
    claimed = np.where((rng.random(k) < CLAIM_SHARE) & (claimed < expires) & (claimed < w.end),
                       claimed, NEVER)
    return Coupons(cons, template, issued, claimed, expires, at.ids("CP", chunk.index, k))


def redeem(cp: Coupons, orders: Orders, basket: Basket) -> None:
    """Redeem each claimed coupon on the consumer's next order before it expires, when that
    order reaches the threshold and carries no other coupon."""
    k = len(cp.cons)
    okey = orders.cons.astype(np.int64) << 32 | orders.t
    ckey = cp.cons.astype(np.int64) << 32 | np.minimum(cp.claimed, 2**32 - 1)
    nxt = np.searchsorted(okey, ckey)
    safe = np.minimum(nxt, max(orders.n - 1, 0))
    ok = (cp.claimed < NEVER) & (nxt < orders.n)
    if orders.n:
        ok &= ((orders.cons[safe] == cp.cons) & (orders.t[safe] < cp.expires)
               & (orders.kind[safe] != GIFT) & (basket.total[safe] >= cp.threshold))
    redeemed = np.flatnonzero(ok)
    _, first = np.unique(safe[redeemed], return_index=True)
    redeemed = redeemed[np.sort(first)]
    cp.order = np.full(k, -1, dtype=np.int64)
    cp.order[redeemed] = safe[redeemed]
    cp.order_coupon = np.full(orders.n, -1, dtype=np.int64)
    cp.order_coupon[cp.order[redeemed]] = redeemed
    cp.discount = np.where(cp.order_coupon >= 0,
                           _FACE[gather(cp.template, cp.order_coupon, 0)], 0)


def coupon_table(cp: Coupons, orders: Orders, order_ids: pa.Array, kb: KeyBook,
                 chunk: Chunk) -> pa.Table:
    rng = chunk.rng("coupon-rows")
    w = chunk.window
    k = len(cp.cons)
    slot = kb.choose(rng, cp.cons, np.broadcast_to(COUPON_PREFS, (k, len(COUPON_PREFS))))
    red = cp.order >= 0
    red_t = np.where(red, gather(orders.t, cp.order, NEVER), NEVER)
    expired = ~red & (cp.expires < w.end)
    claimed = cp.claimed < NEVER
    parts = [(np.arange(k), 0, cp.issued), (np.flatnonzero(claimed), 1, cp.claimed),
             (np.flatnonzero(red), 2, red_t), (np.flatnonzero(expired), 3, cp.expires)]
    coupon = np.concatenate([p[0] for p in parts])
    action = np.concatenate([np.full(len(p[0]), p[1]) for p in parts])
    when = np.concatenate([p[2][p[0]] for p in parts])
    order = np.lexsort((action, coupon))
    coupon, action, when = coupon[order], action[order], when[order]
    n = len(coupon)
    tpl = cp.template[coupon]
    red_order = cp.order[coupon]
    return output.build("coupons", {
        "event_id": at.ids("CE", chunk.index, n),
        "coupon_id": at.pick(cp.ids, coupon),
        "consumer_key": kb.key(cp.cons[coupon], slot[coupon]),
        "action": at.pick(ACTIONS, action),
        "occurred_at": format_times(when),
        "template_id": at.pick([t[0] for t in TEMPLATES], tpl),
        "face_value": _FACE[tpl],
        "threshold": _THRESHOLD[tpl],
        "order_id": at.pick(order_ids, np.maximum(red_order, 0), (action == 2) & (red_order >= 0)),
    }, n)
