"""Consumer keys (``type:value``): which keys each consumer has and which one each row carries.

A consumer has 1–4 keys, following their relationships: a member number for members, a WeCom
external_userid for guide friends, group members and customer-service contacts, openid/unionid
for mini-program and official-account users, tmall/douyin ids and store POS ids for shoppers.
Phones, member numbers and the other numeric ids are bijections of the consumer's global index,
so they never collide; about 1 % of phones on event rows are written in another format
(``phone:+86 138-0013-8000``) that normalises to the same number.

Each row picks its key by the field's preference (WeCom events the wecom key, orders the member
or phone key…), wandering to another of the person's keys now and then, so OneID has real work.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from siyu.demo import arrowtext as at
from siyu.demo import vocab
from siyu.demo.chunks import Chunk
from siyu.demo.people import Population
from siyu.demo.relationships import CS, GROUP, GUIDE, LIVE, MEMBERSHIP, MP, OA, SHOP, VC, Relations
from siyu.demo.timeline import NEVER
from siyu.schema import KEY_TYPES

KEY_SLOTS: tuple[str, ...] = (
    "phone", "unionid", "openid", "wecom", "member", "tmall", "douyin", "pos",
)
PHONE, UNIONID, OPENID, WECOM, MEMBER, TMALL, DOUYIN, POS = range(len(KEY_SLOTS))
ALT_PHONE = len(KEY_SLOTS)
"""Extra slot: the consumer's phone written in another format."""
assert set(KEY_SLOTS) <= set(KEY_TYPES)

MAX_KEYS = 4
KEEP_PRIORITY = (MEMBER, WECOM, PHONE, UNIONID, OPENID, TMALL, POS, DOUYIN)
"""Which keys survive when a consumer would have more than ``MAX_KEYS``."""
PRIMARY_ORDER = (MEMBER, PHONE, UNIONID, TMALL, POS, DOUYIN, OPENID, WECOM)
"""The key a consumer's attribute row (``consumers``) is written under."""
WANDER = 0.12
"""Chance a row carries a random other key of the person instead of the preferred one."""
ALT_PHONE_SHARE = 0.01


def prefs(*slots: int) -> np.ndarray:
    """A preference row: rank of each key slot (listed order first, the rest last)."""
    rank = np.full(len(KEY_SLOTS), len(KEY_SLOTS) + 1, dtype=np.int8)
    for i, s in enumerate(slots):
        rank[s] = i
    return rank


def rank_table(by_code: dict[int, np.ndarray], codes: int,
               default: np.ndarray | None = None) -> np.ndarray:
    """Preference rows indexed by a code (a field…): ``table[code]``."""
    base = prefs() if default is None else default
    table = np.tile(base, (codes, 1))
    for code, row in by_code.items():
        table[code] = row
    return table


FIELD_PREFS = rank_table({
    MEMBERSHIP: prefs(MEMBER, PHONE), GUIDE: prefs(WECOM), GROUP: prefs(WECOM, UNIONID),
    OA: prefs(UNIONID, OPENID), MP: prefs(OPENID, UNIONID), SHOP: prefs(TMALL, PHONE),
    LIVE: prefs(UNIONID, DOUYIN, OPENID), CS: prefs(WECOM, PHONE), VC: prefs(UNIONID, DOUYIN),
}, 9)
"""Key preference of relationship and interaction rows by field (``REL_FIELDS`` code)."""


def _perm(g: np.ndarray, modulus: int, a: int, b: int) -> np.ndarray:
    """A bijection of ``[0, modulus)`` (``a`` coprime with ``modulus``)."""
    return (g.astype(np.int64) * a + b) % modulus


@dataclass
class KeyBook:
    """The keys of a chunk's consumers."""

    n: int
    has: np.ndarray
    """(consumers × KEY_SLOTS) whether the consumer has the key."""
    born: np.ndarray
    """(consumers × KEY_SLOTS) when the key first appeared."""
    flat: pa.Array
    """Key strings, slot-major: ``flat[slot * n + consumer]``, ``ALT_PHONE`` slot last."""
    primary: np.ndarray

    def key(self, cons: np.ndarray, slot: np.ndarray | int) -> pa.Array:
        return pc.take(self.flat, pa.array(np.asarray(slot) * self.n + cons))

    def choose(self, rng: np.random.Generator, cons: np.ndarray,
               rank: np.ndarray) -> np.ndarray:
        """The slot each row uses: the preferred available key, sometimes another one."""
        avail = self.has[cons]
        slot = np.where(avail, rank, np.int8(127)).argmin(axis=1)
        wander = np.flatnonzero(rng.random(len(cons)) < WANDER)
        if len(wander):
            r = rng.random((len(wander), len(KEY_SLOTS)))
            r[~avail[wander]] = -1.0
            slot[wander] = r.argmax(axis=1)
        alt = (slot == PHONE) & (rng.random(len(cons)) < ALT_PHONE_SHARE)
        return np.where(alt, ALT_PHONE, slot)

    def keys_for(self, rng: np.random.Generator, cons: np.ndarray,
                 rank: np.ndarray) -> pa.Array:
        return self.key(cons, self.choose(rng, cons, rank))


def build_keys(chunk: Chunk, pop: Population, rel: Relations) -> KeyBook:
    rng = chunk.rng("keys")
    n = pop.n
    r = rel.has
    u = rng.random((n, len(KEY_SLOTS)))
    public = ~rel.private
    has = np.zeros((n, len(KEY_SLOTS)), dtype=bool)
    has[:, MEMBER] = r[:, MEMBERSHIP]
    has[:, WECOM] = r[:, GUIDE] | r[:, CS] | r[:, GROUP]
    has[:, OPENID] = r[:, MP] & (u[:, OPENID] < 0.65)
    has[:, UNIONID] = (r[:, MP] | r[:, OA] | r[:, LIVE] | r[:, VC]) & (u[:, UNIONID] < 0.8)
    has[:, PHONE] = u[:, PHONE] < np.where(r[:, MEMBERSHIP], 0.97, np.where(public, 0.7, 0.55))
    has[:, TMALL] = u[:, TMALL] < np.where(r[:, SHOP], 0.8, np.where(public, 0.35, 0.05))
    has[:, DOUYIN] = u[:, DOUYIN] < np.where(public, 0.12, np.where(r[:, LIVE] | r[:, VC],
                                                                     0.15, 0.0))
    has[:, POS] = u[:, POS] < np.where(public, 0.4, 0.15)
    kept = np.zeros_like(has)
    count = np.zeros(n, dtype=np.int64)
    for s in KEEP_PRIORITY:
        take = has[:, s] & (count < MAX_KEYS)
        kept[:, s] = take
        count += take
    kept[count == 0, PHONE] = True
    has = kept

    S = np.where(rel.has, rel.S, NEVER)
    born = np.repeat(pop.reg[:, None], len(KEY_SLOTS), axis=1)
    born[:, MEMBER] = S[:, MEMBERSHIP]
    born[:, WECOM] = S[:, [GUIDE, CS, GROUP]].min(axis=1)
    born[:, OPENID] = S[:, MP]
    born[:, UNIONID] = S[:, [MP, OA, LIVE, VC]].min(axis=1)
    born[:, TMALL] = S[:, SHOP]
    born = np.where(born >= NEVER, pop.reg[:, None], born)

    g = np.arange(chunk.first, chunk.first + n, dtype=np.int64)
    salt = chunk.seed % 1_000_003
    prefix = np.array(vocab.MOBILE_PREFIXES, dtype=np.int64)[
        _perm(g, len(vocab.MOBILE_PREFIXES), 7, salt)]
    phone = at.decimal(prefix * 100_000_000 + _perm(g, 100_000_000, 48271, salt * 97))
    alt = pc.choose(
        pa.array(rng.integers(0, 4, n).astype(np.int8)),
        at.concat("+86 ", pc.utf8_slice_codeunits(phone, 0, 3), "-",
                  pc.utf8_slice_codeunits(phone, 3, 7), "-", pc.utf8_slice_codeunits(phone, 7, 11)),
        at.concat(pc.utf8_slice_codeunits(phone, 0, 3), " ", pc.utf8_slice_codeunits(phone, 3, 7),
                  " ", pc.utf8_slice_codeunits(phone, 7, 11)),
        at.concat("+86", phone),
        at.concat("86-", phone),
    )
    columns = [
        at.concat("phone:", phone),
        at.concat("unionid:o", at.tokens(rng, n, 27)),
        at.concat("openid:o", at.tokens(rng, n, 27)),
        at.concat("wecom:wm", at.tokens(rng, n, 22)),
        at.concat("member:M", at.decimal(1_000_000_000 + _perm(g, 1_000_000_000, 69621, salt))),
        at.concat("tmall:", at.decimal(2_200_000_000_000 + _perm(g, 10**11, 40693, salt))),
        at.concat("douyin:dy", at.tokens(rng, n, 18)),
        at.concat("pos:C", at.decimal(100_000_000 + _perm(g, 100_000_000, 16807, salt))),
        at.concat("phone:", alt),
    ]
    flat = pa.concat_arrays([c.combine_chunks() if isinstance(c, pa.ChunkedArray) else c
                             for c in columns])
    order = np.array(PRIMARY_ORDER)
    primary = order[np.argmax(has[:, order], axis=1)]
    return KeyBook(n, has, born, flat, primary)
