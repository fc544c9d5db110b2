"""Stores, their shopping guides, and the brand-wide touchpoints.

Each chunk owns its stores (≈ one per 2,000 consumers); a store has 5–8 guides, the first of
whom is the store manager (joined at opening, never leaves). Some other guides leave during the
window (``status = left``), which makes their WeCom friends change hands (离职继承).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from siyu.demo import arrowtext as at
from siyu.demo import output, vocab
from siyu.demo.chunks import Chunk
from siyu.demo.people import chinese_names
from siyu.demo.timeline import DAY, NEVER, format_times

BRAND_TOUCHPOINTS: dict[str, tuple[str, str]] = {
    "membership": ("member-club", "会员俱乐部"),
    "official_account": ("oa-main", "品牌服务号"),
    "mini_program": ("mp-main", "品牌小程序商城"),
    "shop": ("shop-tmall", "天猫旗舰店"),
    "live_room": ("live-main", "品牌直播间"),
    "customer_service": ("cs-main", "专属客服"),
    "video_channel": ("vc-main", "品牌视频号"),
}
"""Brand-wide touchpoints by field: (field_ref, name)."""

GUIDE_LEAVE_RATE = 0.15
"""Share of non-manager guides who leave during the window."""


@dataclass
class Stores:
    """The stores and guides of one chunk (local indices)."""

    ids: list[str]
    names: list[str]
    city: np.ndarray
    opened: np.ndarray
    weight: np.ndarray
    """Share of the chunk's consumers whose home store it is."""
    guide_ids: list[str]
    guide_names: list[str]
    guide_store: np.ndarray
    guide_joined: np.ndarray
    guide_left: np.ndarray
    """When the guide left; ``NEVER`` while still active."""
    first_guide: np.ndarray
    guide_count: np.ndarray

    @property
    def n(self) -> int:
        return len(self.ids)


def build_stores(chunk: Chunk) -> Stores:
    rng = chunk.rng("stores")
    w = chunk.window
    n = chunk.stores
    city = rng.choice(len(vocab.CITIES), size=n, p=vocab.CITY_WEIGHTS)
    mall = rng.integers(0, len(vocab.MALLS), n)
    ids = [f"S{chunk.first_store + i + 1:05d}" for i in range(n)]
    names, seen = [], set()
    for c, m in zip(city, mall, strict=True):
        name = f"{vocab.CITY_NAMES[c]}{vocab.MALLS[m]}店"
        k = 2
        while name in seen:
            name = f"{vocab.CITY_NAMES[c]}{vocab.MALLS[m]}{k}店"
            k += 1
        seen.add(name)
        names.append(name)
    opened = w.start - (900 + rng.integers(0, 2000, n)) * DAY - rng.integers(0, DAY, n)
    weight = rng.lognormal(0.0, 0.35, n)
    weight /= weight.sum()

    count = rng.integers(5, 9, n)
    first = np.concatenate([[0], np.cumsum(count)[:-1]])
    store_of = np.repeat(np.arange(n), count)
    rank = np.arange(len(store_of)) - first[store_of]
    manager = rank == 0
    joined = opened[store_of] + np.where(
        manager, 0, (rng.random(len(store_of)) * (w.start - opened[store_of])).astype(np.int64))
    leaves = ~manager & (rng.random(len(store_of)) < GUIDE_LEAVE_RATE)
    left = np.where(leaves, w.start + (rng.random(len(store_of)) * (w.end - w.start)).astype(
        np.int64), NEVER)
    guide_ids = [f"G{s[1:]}{r + 1:02d}" for s, r in zip(np.array(ids)[store_of], rank,
                                                         strict=True)]
    guide_names = chinese_names(rng, len(store_of)).to_pylist()
    return Stores(ids, names, city, opened, weight, guide_ids, guide_names, store_of, joined,
                  left, first, count)


def store_tables(stores: Stores, chunk: Chunk) -> dict:
    """Rows of ``stores``, ``guides`` and the store/guide touchpoints of the chunk."""
    n, g = stores.n, len(stores.guide_ids)
    region = [vocab.CITY_REGIONS[c] for c in stores.city]
    store_rows = output.build("stores", {
        "store_id": at.pick(stores.ids, np.arange(n)),
        "name": at.pick(stores.names, np.arange(n)),
        "city": at.pick(vocab.CITY_NAMES, stores.city),
        "region": at.pick(region, np.arange(n)),
        "opened_at": format_times(stores.opened),
    }, n)
    left = stores.guide_left < NEVER
    guide_rows = output.build("guides", {
        "guide_id": at.pick(stores.guide_ids, np.arange(g)),
        "name": at.pick(stores.guide_names, np.arange(g)),
        "store_id": at.pick(stores.ids, stores.guide_store),
        "status": at.pick(("active", "left"), left.astype(np.int64)),
        "joined_at": format_times(stores.guide_joined),
        "left_at": format_times(stores.guide_left, left),
    }, g)
    ref = stores.ids + stores.guide_ids
    names = stores.names + [f"{nm}的企业微信" for nm in stores.guide_names]
    touch = output.build("touchpoints", {
        "field_ref": at.pick(ref, np.arange(n + g)),
        "field": at.pick(("store", "guide"), (np.arange(n + g) >= n).astype(np.int64)),
        "name": at.pick(names, np.arange(n + g)),
        "store_id": at.pick(stores.ids, np.concatenate([np.arange(n), stores.guide_store])),
        "guide_id": at.pick(stores.guide_ids, np.concatenate([np.zeros(n, np.int64),
                                                              np.arange(g)]),
                            np.arange(n + g) >= n),
    }, n + g)
    return {"stores": store_rows, "guides": guide_rows, "touchpoints": touch}


def brand_touchpoints() -> dict:
    """The brand-wide touchpoints (written once, with the first chunk)."""
    fields = list(BRAND_TOUCHPOINTS)
    k = len(fields)
    return {"touchpoints": output.build("touchpoints", {
        "field_ref": at.pick([BRAND_TOUCHPOINTS[f][0] for f in fields], np.arange(k)),
        "field": at.pick(fields, np.arange(k)),
        "name": at.pick([BRAND_TOUCHPOINTS[f][1] for f in fields], np.arange(k)),
    }, k)}
