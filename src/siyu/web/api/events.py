"""``/api/v1/events/{table}``: rows of any canonical table (DOMAIN.md §2) in batches, with
the validation, rejects and idempotency of ``siyu import`` (:mod:`siyu.web.events`); and
``/api/v1/identity/resolve`` to merge the new keys (OneID) while the server owns the
warehouse."""

from __future__ import annotations

from enum import Enum
from typing import Any

from fastapi import APIRouter, Depends, Request

from siyu.errors import SiyuError
from siyu.schema import TABLES
from siyu.web.api.schemas import ERRORS, EventBatch, EventResult
from siyu.web.auth import Principal
from siyu.web.deps import get_state, require
from siyu.web.errors import from_siyu_error
from siyu.web.events import check_rows

router = APIRouter(tags=["events"], responses=ERRORS)

TableName = Enum("TableName", {t: t for t in TABLES}, type=str)  # type: ignore[misc]


@router.post("/events/{table}", response_model=EventResult, summary="Post a batch of rows")
def post_events(table: TableName, body: EventBatch, request: Request,
                p: Principal = Depends(require("ingest"))) -> EventResult:
    """Validate and load the rows into `table`. Bad rows come back as rejects with their index
    and reason and are written to the workspace's rejects folder like file imports; good rows
    load even when neighbours are bad. Posting the same rows again loads nothing new (ids
    make imports idempotent). Rows posted at the same time are loaded together."""
    name = table.value
    early = check_rows(name, body.rows)
    bad = {r["index"] for r in early}
    good_idx = [i for i in range(len(body.rows)) if i not in bad]
    result: dict[str, Any] = {"table": name, "received": len(body.rows), "accepted": 0,
                              "rejected": 0, "rejects": [], "batch": None}
    if good_idx:
        st = get_state(request)
        got = st.events.submit(name, [body.rows[i] for i in good_idx])
        result["batch"] = got["batch"]
        result["rejects"] = [{**r, "index": good_idx[r["index"]]} for r in got["rejects"]]
    result["rejects"] = sorted(early + result["rejects"], key=lambda r: r["index"])
    result["rejected"] = len({r["index"] for r in result["rejects"]})
    result["accepted"] = result["received"] - result["rejected"]
    return EventResult(**result)


@router.post("/identity/resolve", summary="Resolve identities (OneID) now")
def resolve(request: Request, p: Principal = Depends(require("ingest"))) -> dict[str, Any]:
    """`siyu identity resolve --json` run by the server (which owns the warehouse): keys that
    arrived through the API become consumers the metrics and audiences see."""
    from siyu.identity import resolve as run

    st = get_state(request)
    with st.warehouse() as ws:
        try:
            report = run(ws).to_dict()
        except SiyuError as e:
            raise from_siyu_error(e) from None
    st.data_changed()
    return report
