"""Consent grants by purpose and channel (DOMAIN §12), and the revocations that follow.

Private consumers grant ``service`` on joining, ``marketing`` on one channel they are reachable
on (WeCom, group, official account, SMS, e-mail), and sometimes ``profiling``/``analytics``. A
few per cent revoke later (``granted = false``), marketing most often.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from siyu.demo import arrowtext as at
from siyu.demo import output
from siyu.demo.chunks import Chunk
from siyu.demo.keys import MEMBER, OPENID, PHONE, UNIONID, WECOM, KeyBook, prefs, rank_table
from siyu.demo.relationships import CS, GROUP, GUIDE, OA, Relations
from siyu.demo.timeline import DAY, NEVER, format_times
from siyu.schema import CONSENT_CHANNELS, CONSENT_PURPOSES

CHANNELS = CONSENT_CHANNELS
WECOM_C, GROUP_C, SMS_C, OA_C, EMAIL_C, ALL_C = (CHANNELS.index(c) for c in (
    "wecom", "group", "sms", "official_account", "email", "all"))
GRANT_P = {"service": 0.45, "marketing": 0.40, "profiling": 0.12, "analytics": 0.12}
REVOKE_P = {"service": 0.02, "marketing": 0.06, "profiling": 0.02, "analytics": 0.02}
CHANNEL_PREFS = rank_table({
    WECOM_C: prefs(WECOM), GROUP_C: prefs(WECOM), SMS_C: prefs(PHONE),
    OA_C: prefs(UNIONID, OPENID), EMAIL_C: prefs(MEMBER, PHONE), ALL_C: prefs(MEMBER, PHONE, UNIONID),
}, len(CHANNELS))
GRANT_SOURCES = ("privacy_policy", "wecom_bind", "group_join", "follow", "member_register",
                 "newsletter_form", "privacy_center")
REVOKE_SOURCES = ("privacy_center", "sms_unsubscribe", "wecom_setting")
_GRANT_SOURCE_BY_CHANNEL = {WECOM_C: 1, GROUP_C: 2, OA_C: 3, SMS_C: 4, EMAIL_C: 5, ALL_C: 0}
assert set(GRANT_P) == set(CONSENT_PURPOSES)


def consent_table(chunk: Chunk, rel: Relations, kb: KeyBook) -> pa.Table:
    rng = chunk.rng("consents")
    w = chunk.window
    private = np.flatnonzero(rel.private)
    first = rel.first_start()
    S = np.where(rel.has, rel.S, NEVER)
    cons_l, purpose_l, channel_l, when_l = [], [], [], []
    for p, name in enumerate(CONSENT_PURPOSES):
        c = private[rng.random(len(private)) < GRANT_P[name]]
        channel = np.full(len(c), ALL_C)
        t = first[c]
        if name == "marketing":
            # the channel: one the consumer is reachable on, chosen at random
            reach = np.stack([
                rel.has[c, GUIDE] | rel.has[c, CS], rel.has[c, GROUP], kb.has[c, PHONE],
                rel.has[c, OA], rng.random(len(c)) < 0.03,
            ], axis=1)
            score = rng.random(reach.shape) * reach
            pick = score.argmax(axis=1)
            ok = reach.any(axis=1)
            codes = np.array([WECOM_C, GROUP_C, SMS_C, OA_C, EMAIL_C])
            channel = np.where(ok, codes[pick], ALL_C)
            since = np.stack([np.minimum(S[c, GUIDE], S[c, CS]), S[c, GROUP], first[c],
                              S[c, OA], first[c]], axis=1)[np.arange(len(c)), pick]
            t = np.where(ok, since, t)
        cons_l.append(c)
        purpose_l.append(np.full(len(c), p))
        channel_l.append(channel)
        # granted within minutes of the relationship, never after the window
        when_l.append(np.minimum(t + rng.integers(0, 600, len(c)), w.end - 1))
    cons, purpose = np.concatenate(cons_l), np.concatenate(purpose_l)
    channel, when = np.concatenate(channel_l), np.concatenate(when_l)
    granted_source = np.array([_GRANT_SOURCE_BY_CHANNEL[c] for c in range(len(CHANNELS))])[channel]
    granted_source = np.where(purpose == CONSENT_PURPOSES.index("profiling"), 6, granted_source)

    revoke_p = np.array([REVOKE_P[p] for p in CONSENT_PURPOSES])[purpose]
    later = when + (rng.exponential(120.0, len(cons)) * DAY).astype(np.int64) + 60
    rv = np.flatnonzero((rng.random(len(cons)) < revoke_p) & (later < w.end))
    revoke_source = np.select([channel[rv] == SMS_C, channel[rv] == WECOM_C], [1, 2], 0)

    all_cons = np.concatenate([cons, cons[rv]])
    all_channel = np.concatenate([channel, channel[rv]])
    m = len(all_cons)
    slot = kb.choose(rng, all_cons, CHANNEL_PREFS[all_channel])
    sources = GRANT_SOURCES + REVOKE_SOURCES
    return output.build("consents", {
        "event_id": at.ids("CS", chunk.index, m),
        "consumer_key": kb.key(all_cons, slot),
        "purpose": at.pick(CONSENT_PURPOSES, np.concatenate([purpose, purpose[rv]])),
        "granted": np.concatenate([np.ones(len(cons), bool), np.zeros(len(rv), bool)]),
        "occurred_at": format_times(np.concatenate([when, later[rv]])),
        "channel": at.pick(CHANNELS, all_channel),
        "source": at.pick(sources, np.concatenate([granted_source,
                                                   len(GRANT_SOURCES) + revoke_source])),
    }, m)
