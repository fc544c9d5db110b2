"""The CLV layering map (私域人群CLV分层图, seed 000) at a snapshot: every Capital consumer in
a cell of

    tier        relationship tier 1…5 at the snapshot (§5)
    own band    none (no own value in W), low, mid, high — terciles of own value among the
                Capital consumers with own value > 0, by rank (ties by consumer_id), so each
                band holds ⌊n/3⌋ or ⌈n/3⌉ of them
    propagator  whether the consumer has propagation value in W (§5 a, §6)

with the realised CLV of §6 (own + propagation over the ``clv_window_days`` before the
snapshot; amount or gross-profit basis as configured). Seed 000 measures the return on
private-domain work by how this map changes between two dates: total CLV and the structure
of the cells.

The snapshot of a local day D is the end of D (00:00 of D+1, brand zone), as for ``--as-of``
elsewhere. The tier ladder counts purchases *in a period* (§5): at a snapshot it is taken over
the period of a grain (a month by default) that contains D, up to the end of D
(:func:`~siyu.models.periods.to_date`: on 15 March, 1–15 March; on 31 March, all of March).
"""

from __future__ import annotations

import ibis

from siyu.models.fast import clv
from siyu.models.periods import Period, ToDate
from siyu.models.sources import Sources

__all__ = ["BANDS", "consumer_layers", "layer_cells"]

BANDS: dict[str, tuple[str, str]] = {
    "none": ("无自有价值", "no own value"),
    "low": ("低", "low"),
    "mid": ("中", "mid"),
    "high": ("高", "high"),
}
"""Own-value band code → (Chinese, English)."""


def consumer_layers(src: Sources, window: Period | ToDate) -> ibis.Table:
    """``(consumer_id, tier, own, propagation, clv, band, propagator)`` for every Capital
    consumer at the end of ``window`` (tiers over ``window``, CLV over the W days before its
    end)."""
    c = clv(src, [window]).drop("period")
    buyers = c.filter(c.own > 0)
    rank0 = ibis.row_number().over(order_by=[buyers.own, buyers.consumer_id])
    n = buyers.consumer_id.count().over()
    third = (rank0 * 3) // n
    buyers = buyers.select("consumer_id", band=ibis.cases((third == 0, "low"),
                                                          (third == 1, "mid"),
                                                          else_="high"))
    t = c.left_join(buyers, "consumer_id").drop("consumer_id_right")
    return t.mutate(band=t.band.fill_null("none"), propagator=t.propagation > 0)


def layer_cells(layers: ibis.Table) -> ibis.Table:
    """``(tier, band, propagator, consumers, total, mean)`` of a :func:`consumer_layers`
    table (or a subset of it): the non-empty cells."""
    g = layers.group_by(["tier", "band", "propagator"]).aggregate(
        consumers=layers.count(), total=layers.clv.sum())
    return g.mutate(mean=g.total.cast("float64") / g.consumers)
