"""What a workspace holds: rows per table, the time span, consumers, members, GMV.

Written with Ibis over the canonical tables and the OneID map, like every model. The demo
prints it; ``siyu summary`` prints it for any workspace.
"""

from __future__ import annotations

import ibis

from siyu.models.relationships import stretches
from siyu.models.sources import Sources
from siyu.schema import TABLES

__all__ = ["workspace_summary"]


def workspace_summary(ws) -> dict:
    """A JSON-ready summary of ``ws``."""
    wh = ws.warehouse
    con = wh.ibis
    rows = {name: wh.count(name) for name in TABLES}
    span_parts = []
    for t in TABLES.values():
        if t.time_column and t.kind == "event" and rows[t.name]:
            tbl = con.table(t.name)
            span_parts.append(tbl.aggregate(lo=tbl[t.time_column].min(),
                                            hi=tbl[t.time_column].max()))
    span = None
    if span_parts:
        u = ibis.union(*span_parts)
        lo, hi = u.aggregate(lo=u.lo.min(), hi=u.hi.max()).execute().iloc[0]
        zone = ws.settings.zone
        span = {"from": lo.tz_convert(zone).strftime("%Y-%m-%d"),
                "to": hi.tz_convert(zone).strftime("%Y-%m-%d")}

    orders = con.table("orders")
    paid = orders.filter(orders.status == "paid")
    money = paid.aggregate(n=paid.count(), gmv=paid.amount.sum()).execute().iloc[0]
    out: dict = {
        "brand": ws.settings.brand_name, "timezone": ws.settings.timezone, "span": span,
        "rows": rows, "paid_orders": int(money["n"]),
        "gmv": float(money["gmv"] or 0),
    }

    if wh.has_table("identity_map"):
        idm = con.table("identity_map")
        ids = idm.aggregate(keys=idm.count(), consumers=idm.consumer_id.nunique()).execute()
        out["keys"] = int(ids["keys"].iloc[0])
        out["consumers"] = int(ids["consumers"].iloc[0])
        src = Sources.of(ws)
        st = stretches(src.relationships)
        now = st.filter(st.ended_at.isnull())  # active after every recorded event (§4)
        counts = now.aggregate(
            private_domain=now.consumer_id.nunique(),
            members=now.consumer_id.nunique(where=now.field == "membership"),
        ).execute().iloc[0]
        out["private_domain_now"] = int(counts["private_domain"])
        out["members_now"] = int(counts["members"])
        out["buyers"] = int(src.paid_orders.consumer_id.nunique().execute())
    return out
