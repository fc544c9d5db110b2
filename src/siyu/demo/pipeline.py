"""One chunk of the brand, from stores to dirty rows: every canonical table's rows."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from siyu.demo import arrowtext as at
from siyu.demo.basket import build_basket
from siyu.demo.chunks import Chunk
from siyu.demo.consents import consent_table
from siyu.demo.coupons import coupon_table, issue_coupons, redeem
from siyu.demo.dirty import add_dirty_rows
from siyu.demo.feedback import review_table, survey_table
from siyu.demo.interactions import interaction_table
from siyu.demo.keys import FIELD_PREFS, build_keys
from siyu.demo.links import identity_links
from siyu.demo.order_rows import item_table, order_table
from siyu.demo.orders import build_orders
from siyu.demo.people import build_population, consumer_table
from siyu.demo.relationships import (
    build_relations,
    group_touchpoints,
    relationship_events,
    relationship_table,
)
from siyu.demo.shares import build_shares, share_table
from siyu.demo.stores import brand_touchpoints, build_stores, store_tables
from siyu.schema import TABLES


def build_chunk(chunk: Chunk) -> dict[str, pa.Table]:
    """Every table's rows for ``chunk`` (event tables with their dirty rows)."""
    stores = build_stores(chunk)
    pop = build_population(chunk, stores.weight, stores.city)
    rel = build_relations(chunk, pop, stores)
    kb = build_keys(chunk, pop, rel)
    sh = build_shares(chunk, pop, rel)
    cp = issue_coupons(chunk, pop, rel)
    orders = build_orders(chunk, pop, rel, stores, sh, cp, kb)
    basket = build_basket(chunk.rng("basket"), orders, pop)
    redeem(cp, orders, basket)

    out: dict[str, pa.Table] = store_tables(stores, chunk)
    touch = [out["touchpoints"], group_touchpoints(rel, stores)]
    if chunk.index == 0:
        touch.insert(0, brand_touchpoints()["touchpoints"])
    out["touchpoints"] = pa.concat_tables(touch)
    out["consumers"] = consumer_table(pop, kb.key(np.arange(pop.n), kb.primary), chunk)
    out["identity_links"] = identity_links(chunk, kb)
    ev = relationship_events(chunk, rel)
    rel_keys = kb.keys_for(chunk.rng("relationship-keys"), ev.cons, FIELD_PREFS[ev.field])
    out["relationships"] = relationship_table(ev, rel, rel_keys, chunk)
    out["interactions"] = interaction_table(chunk, pop, rel, kb)
    order_ids = at.ids("O", chunk.index, orders.n)
    order_keys = kb.key(orders.cons, orders.key_slot)
    out["orders"] = order_table(chunk, orders, basket, cp, sh, rel, stores, order_ids, order_keys)
    out["order_items"] = item_table(basket, order_ids)
    out["shares"] = share_table(sh, kb, chunk)
    out["reviews"] = review_table(chunk, orders, basket, order_ids, order_keys)
    out["coupons"] = coupon_table(cp, orders, order_ids, kb, chunk)
    out["consents"] = consent_table(chunk, rel, kb)
    out["surveys"] = survey_table(chunk, pop, rel, kb)
    for name in list(out):
        if TABLES[name].kind == "event":
            out[name] = add_dirty_rows(name, out[name], chunk.rng(f"dirty-{name}"))
    return {name: out[name] for name in TABLES}
