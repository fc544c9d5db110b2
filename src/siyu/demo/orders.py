"""Orders: when consumers buy, and which field, touchpoint, store and guide get the credit.

Buyers repurchase on their preferred category's cycle (护肤 ~45 days, 零食 ~20 days…), faster
when their ``value`` is high and when they are members, group members or guide friends, for an
exponential customer lifetime after registering — so sales are heavy-tailed. Some orders move to
the next shopping festival. New members often get a ¥0 welcome gift order; shares bring referee
orders (``shares.py``) and claimed coupons bring orders of their own (``coupons.py``). An order
is credited to one of the consumer's relationships active when it is paid (member groups pull
strongly), to an offline store, or to no field (public domain).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from siyu.demo import vocab
from siyu.demo.arrays import gather
from siyu.demo.chunks import Chunk
from siyu.demo.keys import (
    DOUYIN,
    MEMBER,
    OPENID,
    PHONE,
    POS,
    TMALL,
    UNIONID,
    WECOM,
    KeyBook,
    prefs,
    rank_table,
)
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
from siyu.demo.shares import Shares
from siyu.demo.stores import Stores
from siyu.demo.timeline import DAY, HOUR, NEVER, in_day_rhythm

if TYPE_CHECKING:
    from siyu.demo.coupons import Coupons

REGULAR, REFERRAL, GIFT, COUPON = 0, 1, 2, 3
STORE = len(REL_FIELDS)
"""Order field code of an offline store purchase; ``-1`` is no field (public domain)."""
ORDER_FIELDS: tuple[str, ...] = REL_FIELDS + ("store",)

MAX_ORDERS = 60
BUYER_SHARE = np.array([0.65, 0.30, 0.65])
"""Share of consumers who buy at all: public, private non-member, member."""
LIFE_YEARS = np.array([0.8, 1.5, 3.0])
"""Mean time a buyer keeps buying after registering: public, private non-member, member."""
GAP_FACTOR = 2.0
"""Mean gap between orders = category cycle × GAP_FACTOR / the consumer's rate."""
COUPON_PULL = 0.25
"""Share of claimed coupons that bring an order of their own before they expire."""
PROMO_SHARE = 0.12
PROMO_REACH_DAYS = 20
GIFT_SHARE = 0.35
"""Share of members joining in the window who get a ¥0 welcome gift order."""

CHANNEL_WEIGHT = np.array([0.0, 3.0, 2.5, 0.5, 2.0, 1.5, 1.2, 0.8, 0.4])
"""Credit weight of an active relationship per ``REL_FIELDS`` (membership is no channel)."""
MEMBER_GROUP_PULL = 6.0
STORE_WEIGHT = 1.5
PUBLIC_WEIGHT = 1.0
SHARE_ORDER_FIELD = {MP: MP, OA: MP, LIVE: LIVE, VC: VC}

ORDER_PREFS = rank_table({
    GUIDE: prefs(MEMBER, PHONE, WECOM), GROUP: prefs(MEMBER, PHONE, WECOM),
    OA: prefs(UNIONID, MEMBER, PHONE), MP: prefs(MEMBER, UNIONID, OPENID, PHONE),
    SHOP: prefs(TMALL, PHONE), LIVE: prefs(MEMBER, UNIONID, DOUYIN, PHONE),
    CS: prefs(MEMBER, PHONE), VC: prefs(UNIONID, DOUYIN, PHONE),
    STORE: prefs(POS, MEMBER, PHONE), STORE + 1: prefs(TMALL, DOUYIN, PHONE, POS),
}, STORE + 2)
"""Key preference by order field code (``STORE + 1`` = no field)."""


@dataclass
class Orders:
    """A chunk's orders sorted by (consumer, paid instant)."""

    cons: np.ndarray
    t: np.ndarray
    kind: np.ndarray
    share: np.ndarray
    """Index of the share that brought the order (-1: none)."""
    field: np.ndarray
    """Code into ``ORDER_FIELDS`` (-1: none)."""
    ref: np.ndarray
    """Index into the touchpoint ids of ``references()`` (-1: none)."""
    store: np.ndarray
    guide: np.ndarray
    key_slot: np.ndarray
    min_total: np.ndarray
    """Cents the basket must reach (a coupon's threshold for coupon-driven orders)."""

    @property
    def n(self) -> int:
        return len(self.cons)


def _regular(rng, pop: Population, rel: Relations, w) -> tuple[np.ndarray, np.ndarray]:
    """Repeat purchases of each buyer while they are a customer (``LIFE_YEARS``)."""
    n = pop.n
    member = rel.has[:, MEMBERSHIP]
    group = rel.has[:, GROUP]
    in_member_group = rel.in_member_group
    kind = np.where(~rel.private, 0, np.where(member, 2, 1))
    buyer = rng.random(n) < BUYER_SHARE[kind]
    boost = 1 + 0.3 * member + 0.3 * group + 0.2 * rel.has[:, GUIDE] + 0.8 * in_member_group
    rate = pop.value ** 0.75 * boost
    gap = np.maximum(vocab.CATEGORY_CYCLE_DAYS[pop.category] * GAP_FACTOR / rate, 3.0) * DAY
    life = rng.exponential(LIFE_YEARS[kind] * 365.0 * DAY, n).astype(np.int64)
    lo = np.maximum(pop.reg, w.start)
    hi = np.minimum(pop.reg + life, w.end)
    at_signup = (pop.reg >= w.start) & (rng.random(n) < 0.5)
    first = np.where(at_signup, pop.reg + rng.exponential(2 * DAY, n),
                     lo + rng.random(n) * gap).astype(np.int64)
    span = np.maximum(hi - first, 0)
    count = np.where(buyer & (span > 0), np.minimum(np.ceil(span / gap * 1.5) + 3, MAX_ORDERS),
                     0).astype(np.int64)
    cons = np.repeat(np.arange(n), count)
    starts = np.cumsum(count) - count
    pos = np.arange(len(cons)) - starts[cons]
    step = rng.gamma(2.5, 1 / 2.5, len(cons)) * gap[cons]
    step[pos == 0] = 0
    run = np.cumsum(step)
    t = first[cons] + (run - run[starts[cons]]).astype(np.int64)
    keep = t < hi[cons]
    return cons[keep], t[keep]


def _to_promo(rng, t: np.ndarray, w) -> np.ndarray:
    promo = w.promo_starts()
    if not len(promo):
        return t
    nxt = promo[np.minimum(np.searchsorted(promo, t), len(promo) - 1)]
    move = (nxt > t) & (nxt - t < PROMO_REACH_DAYS * DAY) & (rng.random(len(t)) < PROMO_SHARE)
    moved = nxt + rng.integers(8 * HOUR, 24 * HOUR, len(t))
    return np.where(move, moved, t)


def build_orders(chunk: Chunk, pop: Population, rel: Relations, stores: Stores,
                 sh: Shares, cp: Coupons, kb: KeyBook) -> Orders:
    rng = chunk.rng("orders")
    w = chunk.window
    c_reg, t_reg = _regular(rng, pop, rel, w)
    t_reg = _to_promo(rng, t_reg, w)
    lo = np.maximum(t_reg - t_reg % DAY, pop.reg[c_reg])
    t_reg = in_day_rhythm(t_reg, lo, np.full(len(t_reg), w.end), rng)

    new_member = rel.has[:, MEMBERSHIP] & (rel.S[:, MEMBERSHIP] >= w.start)
    c_gift = np.flatnonzero(new_member & (rng.random(pop.n) < GIFT_SHARE))
    t_gift = rel.S[c_gift, MEMBERSHIP] + rng.integers(60, DAY // 2, len(c_gift))
    keep = t_gift < w.end
    c_gift, t_gift = c_gift[keep], t_gift[keep]

    pulled = np.flatnonzero((cp.claimed < NEVER) & (rng.random(len(cp.cons)) < COUPON_PULL))
    t_cp = cp.claimed[pulled] + rng.exponential(2 * DAY, len(pulled)).astype(np.int64)
    keep = (t_cp < cp.expires[pulled]) & (t_cp < w.end)
    pulled, t_cp = pulled[keep], t_cp[keep]

    cons = np.concatenate([c_reg, sh.referee, c_gift, cp.cons[pulled]])
    t = np.concatenate([t_reg, sh.referee_t, t_gift, t_cp])
    kind = np.concatenate([np.full(len(c_reg), REGULAR), np.full(len(sh.referee), REFERRAL),
                           np.full(len(c_gift), GIFT), np.full(len(pulled), COUPON)])
    share = np.concatenate([np.full(len(c_reg), -1), sh.referee_share,
                            np.full(len(c_gift) + len(pulled), -1)])
    min_total = np.concatenate([np.zeros(len(c_reg) + len(sh.referee) + len(c_gift), np.int64),
                                cp.threshold[pulled]])
    order = np.lexsort((kind, t, cons))
    cons, t, kind, share, min_total = (cons[order], t[order], kind[order], share[order],
                                       min_total[order])

    field = _credit(rng, rel, cons, t)
    from_share = share >= 0
    share_field = np.array([SHARE_ORDER_FIELD.get(f, MP) for f in range(len(REL_FIELDS))])
    field = np.where(from_share, share_field[gather(sh.field, share, 0)], field)
    gift_field = np.where(rng.random(len(cons)) < 0.5, STORE, MP)
    field = np.where(kind == GIFT, gift_field, field)

    store = np.where(np.isin(field, [GUIDE, GROUP, STORE]), pop.store[cons], -1)
    guide_now = np.where(rel.active(cons, t)[:, GUIDE], rel.guide_at(cons, t), -1)
    random_guide = (stores.first_guide[pop.store[cons]]
                    + (rng.random(len(cons)) * stores.guide_count[pop.store[cons]]).astype(int))
    serving = (stores.guide_joined[random_guide] <= t) & (t < stores.guide_left[random_guide])
    random_guide = np.where(serving, random_guide, stores.first_guide[pop.store[cons]])
    guide = np.select(
        [field == GUIDE,
         (field == STORE) & (guide_now >= 0),
         (field == STORE) & (rng.random(len(cons)) < 0.5),
         (field == MP) & (guide_now >= 0) & (rng.random(len(cons)) < 0.3)],
        [guide_now, guide_now, random_guide, guide_now], -1)
    rel_field = np.where((field >= 0) & (field < STORE), field, MP)
    ref = np.where(field == STORE, len(rel.refs) + pop.store[cons],
                   rel.ref_index(rel_field, cons, t))
    ref = np.where(field < 0, -1, ref)
    pref = ORDER_PREFS[np.where(field < 0, STORE + 1, field)]
    key_slot = kb.choose(rng, cons, pref)
    return Orders(cons, t, kind, share, field, ref, store, guide, key_slot, min_total)


def _credit(rng, rel: Relations, cons: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Pick the field credited with each order among the consumer's active relationships,
    an offline store and no field."""
    weight = rel.active(cons, t) * CHANNEL_WEIGHT
    in_member_group = rel.in_member_group[cons]
    weight[:, GROUP] *= np.where(in_member_group, MEMBER_GROUP_PULL / CHANNEL_WEIGHT[GROUP], 1.0)
    private = rel.private[cons]
    extra = np.stack([np.full(len(cons), STORE_WEIGHT),
                      np.where(private, PUBLIC_WEIGHT, 2 * PUBLIC_WEIGHT)], axis=1)
    weight = np.concatenate([weight, extra], axis=1)
    cum = np.cumsum(weight, axis=1)
    pick = (cum < (rng.random(len(cons)) * cum[:, -1])[:, None]).sum(axis=1)
    return np.where(pick == STORE + 1, -1, pick)


def references(rel: Relations, stores: Stores) -> list[str]:
    """Touchpoint ids ``Orders.ref`` indexes: the relationship refs, then store ids."""
    return rel.refs + stores.ids

