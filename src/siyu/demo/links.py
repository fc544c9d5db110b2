"""Identity links: pairs of keys observed together (OneID's input, DOMAIN §3).

Each secondary key of a consumer is linked to another of their keys where the two met: a WeCom
bind, a member registration, a mini-program login, a POS match… About 2 % of secondary keys are
never linked (OneID cannot join them) and about 5 % of links are observed a second time.

``CONFLICT_SHARE`` (0.2 %) of consumers also get a *conflicting* link — a shared family device
or account that ties one person's key to another person's phone, or two member numbers — which
OneID's guard must refuse.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from siyu.demo import arrowtext as at
from siyu.demo import output
from siyu.demo.chunks import Chunk
from siyu.demo.keys import (
    ALT_PHONE,
    DOUYIN,
    KEY_SLOTS,
    MEMBER,
    OPENID,
    PHONE,
    POS,
    TMALL,
    UNIONID,
    WECOM,
    KeyBook,
)
from siyu.demo.timeline import DAY, format_times

UNLINKED_SHARE = 0.02
RELINK_SHARE = 0.05
CONFLICT_SHARE = 0.002

LINK_SOURCES = {
    PHONE: "member_register", UNIONID: "mini_program_login", OPENID: "mini_program_login",
    WECOM: "wecom_bind", MEMBER: "member_register", TMALL: "tmall_member_bind",
    DOUYIN: "douyin_bind", POS: "pos_match",
}
SOURCES: tuple[str, ...] = tuple(dict.fromkeys(LINK_SOURCES.values())) + (
    "shared_device", "family_account", "member_merge",
)


def identity_links(chunk: Chunk, kb: KeyBook) -> pa.Table:
    rng = chunk.rng("links")
    w = chunk.window
    n = kb.n
    cons, slot = np.nonzero(kb.has)
    secondary = slot != kb.primary[cons]
    cons, slot = cons[secondary], slot[secondary]
    keep = rng.random(len(cons)) >= UNLINKED_SHARE
    cons, slot = cons[keep], slot[keep]
    # an openid meets its unionid at login; everything else meets the primary key
    anchor = np.where((slot == OPENID) & kb.has[cons, UNIONID], UNIONID, kb.primary[cons])
    anchor = np.where(anchor == slot, kb.primary[cons], anchor)
    observed = np.maximum(kb.born[cons, slot], kb.born[cons, anchor])
    source = np.array([SOURCES.index(LINK_SOURCES[s]) for s in range(len(KEY_SLOTS))])[slot]

    again = np.flatnonzero(rng.random(len(cons)) < RELINK_SHARE)
    later = observed[again] + (rng.exponential(60.0, len(again)) * DAY).astype(np.int64) + 1
    fits = later < w.end
    again, later = again[fits], later[fits]

    a_cons = np.concatenate([cons, cons[again]])
    a_slot = np.concatenate([slot, slot[again]])
    b_slot = np.concatenate([anchor, anchor[again]])
    when = np.concatenate([observed, later])
    src = np.concatenate([source, source[again]])
    b_cons = a_cons.copy()

    ca, cb, sa, sb, ct, cs = _conflicts(rng, kb, n, w)
    a_cons, b_cons = np.concatenate([a_cons, ca]), np.concatenate([b_cons, cb])
    a_slot, b_slot = np.concatenate([a_slot, sa]), np.concatenate([b_slot, sb])
    when, src = np.concatenate([when, ct]), np.concatenate([src, cs])

    alt = rng.random(len(a_slot)) < 0.02
    a_slot = np.where(alt & (a_slot == PHONE), ALT_PHONE, a_slot)
    b_slot = np.where(alt & (b_slot == PHONE), ALT_PHONE, b_slot)
    rows = len(a_cons)
    return output.build("identity_links", {
        "key_a": kb.key(a_cons, a_slot),
        "key_b": kb.key(b_cons, b_slot),
        "source": at.pick(SOURCES, src),
        "observed_at": format_times(when),
    }, rows)


def _conflicts(rng, kb: KeyBook, n: int, w):
    """Links joining two different people's phones, or two member numbers."""
    phones = np.flatnonzero(kb.has[:, PHONE])
    k = int(round(CONFLICT_SHARE * n))
    if k == 0 or len(phones) < 2:
        e = np.zeros(0, dtype=np.int64)
        return e, e, e, e, e, e
    a = rng.choice(phones, size=k, replace=False)
    b = phones[(np.searchsorted(phones, a) + 1 + rng.integers(0, len(phones) - 1, k))
               % len(phones)]
    members = kb.has[a, MEMBER] & kb.has[b, MEMBER] & (rng.random(k) < 0.5)
    device = np.full(k, PHONE)
    for s in (UNIONID, WECOM, POS, OPENID):
        device = np.where(kb.has[a, s], s, device)
    sa = np.where(members, MEMBER, device)
    sb = np.where(members, MEMBER, PHONE)
    src = np.where(members, SOURCES.index("member_merge"),
                   np.where(rng.random(k) < 0.5, SOURCES.index("shared_device"),
                            SOURCES.index("family_account")))
    t = w.start + (rng.random(k) * (w.end - w.start)).astype(np.int64)
    return a, b, sa, sb, t, src
