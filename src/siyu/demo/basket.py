"""Order lines: what is in each basket, and the totals the order amount is made of.

Most lines come from the consumer's preferred category; high-value consumers buy more lines
and pricier products. Snacks sell several at a time. Gift orders hold one ¥0 gift line. A sku
appears at most once per order (``order_items`` is keyed by order and sku). A coupon-driven
basket buys more of its first line until it reaches the coupon's threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from siyu.demo import vocab
from siyu.demo.orders import GIFT, Orders
from siyu.demo.people import Population
from siyu.demo.relationships import CS, GROUP, GUIDE, LIVE

SNACKS = vocab.CATEGORY_NAMES.index("零食")
SERVED_FIELDS = (GUIDE, GROUP, CS, LIVE)
SERVED_EXTRA_LINES = 0.25
"""Orders a guide, group, service agent or live host helped with hold a few more lines
(private-domain AOV a little above the store's, DOMAIN §14)."""


@dataclass
class Basket:
    order: np.ndarray
    sku: np.ndarray
    qty: np.ndarray
    price: np.ndarray
    """Unit price in cents."""
    total: np.ndarray
    """Per order: Σ quantity × unit price, in cents."""
    margin: np.ndarray
    """Per order: gross profit before discounts, in cents."""
    first_sku: np.ndarray
    """Per order: the sku of its first line."""


def build_basket(rng: np.random.Generator, orders: Orders, pop: Population) -> Basket:
    m = orders.n
    value = pop.value[orders.cons]
    gift = orders.kind == GIFT
    served = np.isin(orders.field, SERVED_FIELDS)
    extra = 0.3 + 0.25 * np.log1p(value) + SERVED_EXTRA_LINES * served
    lines = np.where(gift, 1, 1 + np.minimum(rng.poisson(extra), 4))
    order = np.repeat(np.arange(m), lines)
    k = len(order)
    own = rng.random(k) < 0.7
    cat = np.where(own, pop.category[orders.cons][order],
                   rng.choice(len(vocab.CATEGORIES), size=k, p=vocab.CATEGORY_SHARE))
    taste = 0.7 + 0.6 * np.sqrt(value[order])
    rank = (rng.random(k) ** (1 / taste) * vocab.CATEGORY_SKU_COUNT[cat]).astype(np.int64)
    sku = vocab.CATEGORY_FIRST_SKU[cat] + rank
    is_gift = gift[order]
    sku = np.where(is_gift, len(vocab.PRODUCTS) + rng.integers(0, len(vocab.GIFT_SKUS), k), sku)
    qty = 1 + np.minimum(rng.poisson(np.where(cat == SNACKS, 0.8, 0.2)), 5)
    qty = np.where(is_gift, 1, qty)

    _, first = np.unique(order * len(vocab.SKUS) + sku, return_index=True)
    first.sort()
    order, sku, qty = order[first], sku[first], qty[first]
    price = vocab.SKU_PRICE_CENTS[sku]
    starts = np.flatnonzero(np.r_[True, order[1:] != order[:-1]])[:m]
    total = np.bincount(order, weights=qty * price, minlength=m).astype(np.int64)
    # coupon-driven baskets reach the coupon's threshold: more of the first line
    short = np.maximum(orders.min_total - total, 0)
    first_price = price[starts]
    more = np.where((short > 0) & (first_price > 0), -(-short // np.maximum(first_price, 1)), 0)
    qty[starts] += more
    line = qty * price
    total = np.bincount(order, weights=line, minlength=m).astype(np.int64)
    margin = np.rint(np.bincount(order, weights=line * vocab.SKU_MARGIN[sku], minlength=m)
                     ).astype(np.int64)
    return Basket(order, sku, qty, price, total, margin, sku[starts])
