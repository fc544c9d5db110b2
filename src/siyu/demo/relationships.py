"""Relationships: which fields each consumer joins, when, through which touchpoint, and when
they leave.

A private consumer's relationships are a start matrix ``S`` and an end matrix ``E`` (consumers
× ``REL_FIELDS``; ``NEVER`` = not started / not ended). The earliest start is the registration.
Group chats belong to the home store; members with the highest value form the member groups
(~3 % of group members); a group takes at most ``GROUP_CAPACITY`` joiners and a new group opens
when it is full. Guide friends who outlive their guide are handed over to another guide of the
store when the guide leaves (离职继承, ``HANDOVER_SHARE``) or lost.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from siyu.demo import arrowtext as at
from siyu.demo import output
from siyu.demo.chunks import Chunk
from siyu.demo.people import Population
from siyu.demo.stores import BRAND_TOUCHPOINTS, Stores
from siyu.demo.timeline import DAY, NEVER, format_times

REL_FIELDS: tuple[str, ...] = (
    "membership", "guide", "group_chat", "official_account", "mini_program", "shop",
    "live_room", "customer_service", "video_channel",
)
MEMBERSHIP, GUIDE, GROUP, OA, MP, SHOP, LIVE, CS, VC = range(len(REL_FIELDS))

JOIN_P = np.array([0.45, 0.25, 0.20, 0.40, 0.50, 0.30, 0.15, 0.05, 0.10])
"""Chance a private consumer joins each field (guide and group: more for members)."""
MEMBER_EXTRA_P = {GUIDE: 0.20, GROUP: 0.15}
CHURN_PER_YEAR = np.array([0.06, 0.12, 0.30, 0.18, 0.06, 0.15, 0.30, 0.20, 0.25])
JOIN_DELAY_DAYS = 60.0
GROUP_CAPACITY = 400
MEMBER_GROUP_SHARE = 0.03
HANDOVER_SHARE = 0.7

START_SOURCES: dict[int, tuple[tuple[str, ...], tuple[float, ...]]] = {
    MEMBERSHIP: (("store", "mini_program", "qr_code", "referral", "ads"), (.4, .3, .15, .1, .05)),
    GUIDE: (("store", "qr_code", "referral", "live", "ads"), (.5, .3, .1, .05, .05)),
    GROUP: (("qr_code", "guide_invite", "referral", "live", "store"), (.35, .3, .15, .1, .1)),
    OA: (("search", "qr_code", "ads", "article_share", "referral"), (.3, .25, .2, .15, .1)),
    MP: (("search", "qr_code", "ads", "referral", "live", "article"), (.25, .25, .2, .1, .1, .1)),
    SHOP: (("search", "ads", "live", "referral"), (.4, .3, .2, .1)),
    LIVE: (("live", "ads", "referral", "qr_code"), (.4, .3, .2, .1)),
    CS: (("store", "after_sale", "qr_code"), (.4, .4, .2)),
    VC: (("live", "ads", "referral", "search"), (.35, .3, .2, .15)),
}
END_SOURCES: dict[int, tuple[tuple[str, ...], tuple[float, ...]]] = {
    MEMBERSHIP: (("cancelled", "expired"), (.3, .7)),
    GUIDE: (("deleted_friend",), (1.0,)),
    GROUP: (("left_group", "removed"), (.85, .15)),
    OA: (("unfollow",), (1.0,)),
    MP: (("deauthorized",), (1.0,)),
    SHOP: (("unfollow",), (1.0,)),
    LIVE: (("unfollow",), (1.0,)),
    CS: (("closed",), (1.0,)),
    VC: (("unfollow",), (1.0,)),
}


_BRAND_REF = np.array([list(BRAND_TOUCHPOINTS).index(f) if f in BRAND_TOUCHPOINTS else 0
                       for f in REL_FIELDS])
"""Index of each field's brand-wide touchpoint in ``Relations.refs``."""


@dataclass
class Relations:
    """The relationships of a chunk's consumers and the touchpoints they point at."""

    has: np.ndarray
    S: np.ndarray
    E: np.ndarray
    group: np.ndarray
    """Group index of each consumer (-1: none)."""
    member_group: np.ndarray
    """Per group: is it a member group (会员群)."""
    group_store: np.ndarray
    guide_a: np.ndarray
    """First guide (chunk guide index; -1: none)."""
    guide_b: np.ndarray
    """Guide who inherited the friend (-1: none)."""
    switch: np.ndarray
    """When ``guide_b`` took over (``NEVER``: no handover)."""
    guide_lost: np.ndarray
    """The friendship ended because the guide left and nobody inherited it."""
    refs: list[str]
    """Touchpoint ids: brand-wide, then groups, then guides."""
    group_ids: list[str]
    group_names: list[str]
    group_owner: np.ndarray

    @property
    def in_member_group(self) -> np.ndarray:
        """Per consumer: a member of a member group."""
        if not len(self.member_group):
            return np.zeros(len(self.group), dtype=bool)
        return (self.group >= 0) & self.member_group[np.maximum(self.group, 0)]

    @property
    def private(self) -> np.ndarray:
        return self.has.any(axis=1)

    def first_start(self) -> np.ndarray:
        return np.where(self.has, self.S, NEVER).min(axis=1)

    def guide_at(self, cons: np.ndarray, t: np.ndarray) -> np.ndarray:
        """The guide index of each consumer at ``t`` (-1: none)."""
        return np.where(t >= self.switch[cons], self.guide_b[cons], self.guide_a[cons])

    def active(self, cons: np.ndarray, t: np.ndarray) -> np.ndarray:
        """(rows × fields) whether each relationship is active at ``t``."""
        tt = t[:, None]
        return self.has[cons] & (self.S[cons] <= tt) & (tt < self.E[cons])

    def ref_index(self, field: np.ndarray, cons: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Index into ``refs`` of each (field, consumer, instant)."""
        idx = _BRAND_REF[field]
        nb, ng = len(BRAND_TOUCHPOINTS), len(self.group_ids)
        is_group = field == GROUP
        idx = np.where(is_group, nb + self.group[cons], idx)
        is_guide = field == GUIDE
        return np.where(is_guide, nb + ng + self.guide_at(cons, t), idx)


def _window_clip(t: np.ndarray, end: int) -> np.ndarray:
    return np.where(t < end, t, NEVER)


def build_relations(chunk: Chunk, pop: Population, stores: Stores) -> Relations:
    rng = chunk.rng("relationships")
    n, w, nf = pop.n, chunk.window, len(REL_FIELDS)
    member = rng.random(n) < JOIN_P[MEMBERSHIP]
    p = np.broadcast_to(JOIN_P, (n, nf)).copy()
    p[:, MEMBERSHIP] = 1.0
    boost = np.clip(0.7 + 0.3 * pop.engage, 0.5, 1.6)[:, None]
    p[:, 1:] *= boost
    for f, extra in MEMBER_EXTRA_P.items():
        p[:, f] += extra * member
    has = pop.private[:, None] & (rng.random((n, nf)) < p)
    has[:, MEMBERSHIP] &= member
    none = pop.private & ~has.any(axis=1)
    has[none, MP] = True

    delay = (rng.exponential(JOIN_DELAY_DAYS, (n, nf)) * DAY).astype(np.int64)
    delay = np.where(has, delay, NEVER)
    delay -= delay.min(axis=1, keepdims=True)
    S = np.where(has, pop.reg[:, None] + delay, NEVER)
    has &= S < w.end
    S = np.where(has, S, NEVER)
    life = (rng.exponential(1.0, (n, nf)) * 365.0 / CHURN_PER_YEAR * DAY).astype(np.int64)
    E = np.where(has, _window_clip(S + life, w.end), NEVER)

    group, member_group, group_store, ids, names, owner = _groups(rng, pop, stores, has, S)
    guide_a, guide_b, switch, lost, E[:, GUIDE] = _guides(rng, pop, stores, has[:, GUIDE],
                                                          S[:, GUIDE], E[:, GUIDE], w.end)
    refs = [r for r, _ in BRAND_TOUCHPOINTS.values()] + ids + stores.guide_ids
    return Relations(has, S, E, group, member_group, group_store, guide_a, guide_b, switch, lost,
                     refs, ids, names, owner)


def _groups(rng, pop: Population, stores: Stores, has: np.ndarray, S: np.ndarray):
    joins = np.flatnonzero(has[:, GROUP])
    member_kind = np.zeros(pop.n, dtype=bool)
    candidates = joins[has[joins, MEMBERSHIP]]
    k = min(len(candidates), int(round(MEMBER_GROUP_SHARE * len(joins))))
    if k:
        top = np.argpartition(-pop.value[candidates], k - 1)[:k]
        member_kind[candidates[top]] = True
    order = joins[np.lexsort((joins, S[joins, GROUP], member_kind[joins], pop.store[joins]))]
    key = pop.store[order] * 2 + member_kind[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    first = np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    number = (np.arange(len(order)) - first) // GROUP_CAPACITY
    gkey = key * 100_000 + number
    uniq, gidx = np.unique(gkey, return_inverse=True)
    group = np.full(pop.n, -1, dtype=np.int64)
    group[order] = gidx
    g_store = uniq // 100_000 // 2
    g_member = (uniq // 100_000) % 2 == 1
    g_number = uniq % 100_000 + 1
    owner = stores.first_guide[g_store] + (rng.random(len(uniq)) * stores.guide_count[g_store]
                                           ).astype(np.int64)
    owner = np.where(stores.guide_left[owner] < NEVER, stores.first_guide[g_store], owner)
    ids, names = [], []
    for s, m, num in zip(g_store, g_member, g_number, strict=True):
        ids.append(f"grp-{stores.ids[s]}-{'m' if m else 'n'}{num:02d}")
        names.append(f"{stores.names[s]}{'会员群' if m else '福利群'}{num}")
    return group, g_member, g_store, ids, names, owner


def _guides(rng, pop: Population, stores: Stores, has: np.ndarray, start: np.ndarray,
            end: np.ndarray, window_end: int):
    n = pop.n
    first, count = stores.first_guide[pop.store], stores.guide_count[pop.store]
    a = first + (rng.random(n) * count).astype(np.int64)
    unusable = (stores.guide_joined[a] > start) | (stores.guide_left[a] <= start)
    a = np.where(unusable, first, a)
    a = np.where(has, a, -1)
    left_at = np.where(has, stores.guide_left[np.maximum(a, 0)], NEVER)
    loses = has & (left_at < end)
    b = first + (rng.random(n) * count).astype(np.int64)
    b = np.where((b == a) | (stores.guide_left[b] < NEVER) | (stores.guide_joined[b] > left_at),
                 first, b)
    handed = loses & (rng.random(n) < HANDOVER_SHARE) & (b != a)
    handed &= left_at < window_end
    switch = np.where(handed, left_at, NEVER)
    b = np.where(handed, b, -1)
    lost = loses & ~handed
    new_end = np.where(lost, left_at, end)
    return a, b, switch, lost, new_end


def _sources(rng, field: np.ndarray, table: dict) -> pa.Array:
    names: list[str] = []
    idx = np.zeros(len(field), dtype=np.int64)
    for f, (choices, probs) in table.items():
        rows = np.flatnonzero(field == f)
        idx[rows] = len(names) + rng.choice(len(choices), size=len(rows), p=probs)
        names.extend(choices)
    return at.pick(names, idx)


@dataclass
class RelEvents:
    """Relationship events before they become rows (the keys are chosen later)."""

    cons: np.ndarray
    field: np.ndarray
    t: np.ndarray
    start: np.ndarray
    ref: np.ndarray
    source: pa.Array


def relationship_events(chunk: Chunk, rel: Relations) -> RelEvents:
    rng = chunk.rng("relationship-events")
    c_s, f_s = np.nonzero(rel.has)
    ended = rel.has & (rel.E < NEVER)
    c_e, f_e = np.nonzero(ended)
    # the guide friend who left with the guide, and the new friendship of the heir
    c_h = np.flatnonzero(rel.switch < NEVER)
    f_h = np.full(len(c_h), GUIDE)
    left = rel.switch[c_h]
    cons = np.concatenate([c_s, c_e, c_h, c_h])
    field = np.concatenate([f_s, f_e, f_h, f_h])
    t = np.concatenate([rel.S[c_s, f_s], rel.E[c_e, f_e], left - 1, left])
    start = np.concatenate([np.ones(len(c_s), bool), np.zeros(len(c_e), bool),
                            np.zeros(len(c_h), bool), np.ones(len(c_h), bool)])
    ref = rel.ref_index(field, cons, t)
    end_src = _sources(rng, f_e, END_SOURCES)
    lost = pa.array((f_e == GUIDE) & rel.guide_lost[c_e])
    src = pa.concat_arrays([
        _sources(rng, f_s, START_SOURCES), pc.if_else(lost, "guide_left", end_src),
        at.pick(("guide_left",), np.zeros(len(c_h), np.int64)),
        at.pick(("handover",), np.zeros(len(c_h), np.int64)),
    ])
    return RelEvents(cons, field, t, start, ref, src)


def relationship_table(ev: RelEvents, rel: Relations, keys: pa.Array, chunk: Chunk) -> pa.Table:
    n = len(ev.cons)
    return output.build("relationships", {
        "event_id": at.ids("R", chunk.index, n),
        "consumer_key": keys,
        "field": at.pick(REL_FIELDS, ev.field),
        "action": at.pick(("end", "start"), ev.start.astype(np.int64)),
        "occurred_at": format_times(ev.t),
        "field_ref": at.pick(rel.refs, ev.ref),
        "source": ev.source,
    }, n)


def group_touchpoints(rel: Relations, stores: Stores) -> pa.Table:
    k = len(rel.group_ids)
    idx = np.arange(k)
    return output.build("touchpoints", {
        "field_ref": at.pick(rel.group_ids, idx),
        "field": at.pick(("group_chat",), np.zeros(k, np.int64)),
        "name": at.pick(rel.group_names, idx),
        "store_id": at.pick(stores.ids, rel.group_store),
        "guide_id": at.pick(stores.guide_ids, rel.group_owner),
        "group_type": at.pick(("normal", "member"), rel.member_group.astype(np.int64)),
    }, k)
