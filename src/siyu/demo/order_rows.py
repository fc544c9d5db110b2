"""Rows of ``orders`` and ``order_items``.

``amount`` = Σ quantity × unit price − the redeemed coupon's face value (¥0 for gift orders);
``gross_profit`` = Σ line × category margin − the discount. ``REFUND_SHARE`` of paid orders are
refunded (``status = refunded``; the amount stays as paid).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from siyu.demo import arrowtext as at
from siyu.demo import output, vocab
from siyu.demo.basket import Basket
from siyu.demo.chunks import Chunk
from siyu.demo.coupons import Coupons
from siyu.demo.orders import GIFT, ORDER_FIELDS, Orders, references
from siyu.demo.relationships import Relations
from siyu.demo.shares import Shares
from siyu.demo.stores import Stores
from siyu.demo.timeline import format_times

REFUND_SHARE = 0.04


def order_table(chunk: Chunk, orders: Orders, basket: Basket, cp: Coupons, sh: Shares,
                rel: Relations, stores: Stores, order_ids: pa.Array,
                keys: pa.Array) -> pa.Table:
    rng = chunk.rng("order-rows")
    m = orders.n
    refunded = (orders.kind != GIFT) & (rng.random(m) < REFUND_SHARE)
    return output.build("orders", {
        "order_id": order_ids,
        "consumer_key": keys,
        "paid_at": format_times(orders.t),
        "amount": basket.total - cp.discount,
        "status": at.pick(("paid", "refunded"), refunded.astype(np.int64)),
        "field": at.pick(ORDER_FIELDS, np.maximum(orders.field, 0), orders.field >= 0),
        "field_ref": at.pick(references(rel, stores), np.maximum(orders.ref, 0), orders.ref >= 0),
        "store_id": at.pick(stores.ids, np.maximum(orders.store, 0), orders.store >= 0),
        "guide_id": at.pick(stores.guide_ids, np.maximum(orders.guide, 0), orders.guide >= 0),
        "share_id": at.pick(sh.ids, np.maximum(orders.share, 0), orders.share >= 0),
        "coupon_id": at.pick(cp.ids, np.maximum(cp.order_coupon, 0), cp.order_coupon >= 0),
        "gross_profit": basket.margin - cp.discount,
    }, m)


def item_table(basket: Basket, order_ids: pa.Array) -> pa.Table:
    k = len(basket.order)
    return output.build("order_items", {
        "order_id": pc.take(order_ids, pa.array(basket.order)),
        "sku": at.pick(vocab.SKUS, basket.sku),
        "quantity": basket.qty.astype(np.int64),
        "unit_price": basket.price.astype(np.int64),
        "category": at.pick(vocab.SKU_CATEGORY_NAMES, vocab.SKU_CATEGORY[basket.sku]),
    }, k)
