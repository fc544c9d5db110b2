"""The facts behind one consumer's tag (``siyu tag why``): each term of a rule with whether it
holds and what it saw (the counted events with their times, the tier and its period…), and a
model's row for the consumer. Everything is read at the snapshot of the last compute."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import ibis

from siyu.audience.ast import Compare, EventAgg, InAudience, InField, Node, TagTerm
from siyu.audience.compile import AudienceNotReady, compile_audience, event_rows, event_values
from siyu.audience.text import to_text
from siyu.models.periods import to_date
from siyu.models.relationships import active_at
from siyu.tags.context import TAG_VALUES

__all__ = ["term_facts", "model_facts", "plain"]

MAX_EVENTS = 20
_EVENT_ID = {"orders": "order_id", "gmv": "order_id", "purchase_days": "order_id",
             "shares": "share_id"}
_SHOWN = ("field", "field_ref", "type", "content_id", "category", "dwell_seconds", "amount",
          "store_id", "guide_id", "content_type", "line_category", "line_sku", "line_value")


def plain(v: Any, zone=None) -> Any:
    """A JSON-ready value: times in the brand's zone as ISO text, decimals as floats."""
    if isinstance(v, datetime):
        return (v.astimezone(zone) if zone and v.tzinfo else v).isoformat()
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, float):
        return round(v, 6)
    if isinstance(v, dict):
        return {k: plain(x, zone) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [plain(x, zone) for x in v]
    return v


def _one(t: ibis.Table, cid: str) -> list[dict[str, Any]]:
    return t.filter(t.consumer_id == cid).to_pyarrow().to_pylist()


def _holds(ctx, term: Node, cid: str) -> bool:
    ids = compile_audience(ctx.src, term, ctx.as_of, tag_table=TAG_VALUES)
    return bool(ids.filter(ids.consumer_id == cid).count().execute())


def term_facts(ctx, term: Node, cid: str) -> dict[str, Any]:
    """``{"term", "holds", …}`` for one term of a rule and consumer ``cid``."""
    zone = ctx.settings.zone
    out: dict[str, Any] = {"term": to_text(term)}
    try:
        out["holds"] = _holds(ctx, term, cid)
    except AudienceNotReady as e:
        return {**out, "holds": None, "missing": str(e)}
    if isinstance(term, EventAgg):
        v = _one(event_values(ctx.src, term, ctx.instant), cid)
        out["value"] = plain(v[0]["v"]) if v else 0
        out["window"] = [plain(ctx.instant - timedelta(days=term.days), zone),
                         plain(ctx.instant, zone)]
        rows, at = event_rows(ctx.src, term, ctx.instant)
        rows = rows.filter(rows.consumer_id == cid).order_by(at)
        idc = _EVENT_ID.get(term.kind, "event_id")
        cols = [idc, at, *(c for c in _SHOWN if c in rows.columns)]
        if term.kind not in _EVENT_ID and any(f.name == "category" for f in term.filters):
            rows = rows.mutate(category=rows.attrs.cast("json")["category"].str)
            cols.append("category")
        got = rows.select(*dict.fromkeys(cols)).limit(MAX_EVENTS + 1).to_pyarrow().to_pylist()
        out["events"] = [{("at" if k == at else k): plain(x, zone) for k, x in r.items()
                          if x is not None} for r in got[:MAX_EVENTS]]
        out["events_truncated"] = len(got) > MAX_EVENTS
    elif isinstance(term, Compare):
        from siyu.audience.compile import term_values

        v = _one(term_values(ctx.src, term.term, ctx.as_of), cid)
        out["value"] = plain(v[0]["v"]) if v else (0 if term.term == "tier" else None)
        if term.term == "tier":
            out["period"] = str(to_date(ctx.as_of, "month", zone))
    elif isinstance(term, InField):
        st = ctx.src.stretches
        st = st.filter(active_at(st, ibis.literal(ctx.instant)) & (st.field == term.field))
        out["relationships"] = [plain({"field": r["field"], "field_ref": r["field_ref"],
                                       "since": r["started_at"]}, zone)
                                for r in _one(st, cid)]
    elif isinstance(term, TagTerm):
        t = ctx.src.table(TAG_VALUES)
        out["values"] = [r["value"] for r in _one(t.filter(t.tag == term.name)
                                                  .select("consumer_id", "value"), cid)]
    elif isinstance(term, InAudience):
        pass
    return out


def model_facts(ctx, model: str, cid: str) -> dict[str, Any]:
    """The model's row(s) for consumer ``cid``."""
    zone = ctx.settings.zone
    src = ctx.src
    if model == "tier":
        from siyu.models.tiers import tiers

        period = to_date(ctx.as_of, "month", zone)
        rows = _one(tiers(src, [period]), cid)  # type: ignore[list-item]
        r = rows[0] if rows else {"tier": 0}
        return plain({"period": str(period), **{k: v for k, v in r.items()
                                                 if k not in ("period", "consumer_id")}})
    if model == "rfm_segment":
        from siyu.models.rfm import rfm

        rows = _one(rfm(src, ctx.instant), cid)
        return plain({"snapshot": ctx.instant, **(rows[0] if rows else {"segment": None})},
                     zone)
    if model in ("clv_decile", "churn_decile"):
        from siyu.audience.compile import term_values

        p = src.table("clv_predictions")
        rows = _one(p, cid)
        dec = _one(term_values(src, "clv_decile", ctx.as_of), cid)
        keep = ("as_of", "p_alive", "churn_risk", "churn_decile", "clv", "total")
        r = {k: v for k, v in (rows[0] if rows else {}).items() if k in keep}
        return plain({**r, "clv_decile": dec[0]["v"] if dec else None})
    rows = _one(src.table("purchase_cycles"), cid)
    keep = ("category", "purchase_days", "cycle_days", "last_day", "next_due", "as_of")
    return {"cycles": [plain({k: v for k, v in r.items() if k in keep}) for r in rows]}
