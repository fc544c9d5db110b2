"""``/api/v1/audiences``: count an audience expression, check it, export its members; saved
audiences (save, refresh, a page of members, export)."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import Response
from pydantic import BaseModel, Field

from siyu.errors import SiyuError
from siyu.ops.audit import record
from siyu.web.api.schemas import ERRORS, AudienceCount, AudienceQuery
from siyu.web.auth import Principal
from siyu.web.deps import get_state, require
from siyu.web.errors import bilingual, from_siyu_error

router = APIRouter(prefix="/audiences", tags=["audiences"], responses=ERRORS)


def _parse(expression: str):
    from siyu.audience.parse import parse

    return bilingual(parse, expression)


@router.post("/count", response_model=AudienceCount, summary="Count an audience")
def count(body: AudienceQuery, request: Request,
          p: Principal = Depends(require("audiences"))) -> AudienceCount:
    """How many consumers the expression selects at the end of `as_of` (`siyu audience count
    --json`)."""
    from siyu.audience.service import count as count_audience
    from siyu.audience.text import to_text

    tree = _parse(body.expression)
    st = get_state(request)
    with st.warehouse() as ws:
        got = bilingual(count_audience, ws, tree, body.as_of)
    return AudienceCount(count=got["count"], ms=got["ms"], expression=to_text(tree))


@router.post("/parse", summary="Check an expression")
def parse(body: AudienceQuery, p: Principal = Depends(require("audiences"))) -> dict:
    """The canonical text and JSON tree of the expression (`siyu audience parse`)."""
    from siyu.audience.jsonform import to_json
    from siyu.audience.text import to_text

    tree = _parse(body.expression)
    return {"expression": to_text(tree), "tree": to_json(tree)}


@router.post("/export", summary="Export the members (CSV; audited)",
             response_class=Response,
             responses={200: {"content": {"text/csv": {}},
                              "description": "consumer_id, one per line"}})
def export(body: AudienceQuery, request: Request,
           p: Principal = Depends(require("export"))) -> Response:
    """The consumer ids the expression selects, as CSV. Every export is written to the audit
    log (who, the expression, how many)."""
    from siyu.audience.service import members
    from siyu.audience.text import to_text

    tree = _parse(body.expression)
    st = get_state(request)
    with st.warehouse() as ws:
        ids = bilingual(members, ws, tree, body.as_of)
    text = to_text(tree)
    record(st.ws.ops, p.actor, "export", f"audience: {text}"[:500],
           {"count": len(ids), "as_of": body.as_of.isoformat() if body.as_of else None,
            "format": "csv"})
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["consumer_id"])
    w.writerows([i] for i in ids)
    return Response(buf.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="audience.csv"'})


# -- saved audiences (siyu.audience.saved / refresh / export) --------------------------------

class SaveBody(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    expression: str = Field(min_length=1, max_length=4000)
    replace: bool = False


class RefreshBody(BaseModel):
    as_of: date | None = Field(default=None, description="End of this brand-local day "
                               "[default: today].")


Name = Annotated[str, PathParam(min_length=1, max_length=64)]


@router.get("/saved", summary="Saved audiences")
def list_saved(request: Request, p: Principal = Depends(require("audiences"))) -> list[dict]:
    """Every saved audience with its last refresh (`siyu audience list --json`)."""
    from siyu.audience.saved import list_saved as run

    with get_state(request).warehouse() as ws:
        return bilingual(run, ws)


@router.post("/saved", summary="Save an audience")
def save(body: SaveBody, request: Request,
         p: Principal = Depends(require("audiences_write"))) -> dict:
    """Save the expression under a name (`replace` to change an existing one)."""
    from siyu.audience.saved import save as run

    tree = _parse(body.expression)
    with get_state(request).warehouse() as ws:
        return bilingual(run, ws, body.name, tree, replace=body.replace, actor=p.actor)


@router.get("/saved/{name}", summary="One saved audience")
def get_saved(name: Name, request: Request,
              p: Principal = Depends(require("audiences"))) -> dict:
    from siyu.audience.saved import get

    with get_state(request).warehouse() as ws:
        return bilingual(get, ws, name)


@router.post("/saved/{name}/refresh", summary="Refresh a saved audience")
def refresh(name: Name, body: RefreshBody, request: Request,
            p: Principal = Depends(require("audiences_write"))) -> dict:
    """Recompute the members (and the audiences it uses, first); enter/exit counts."""
    from siyu.audience.refresh import refresh as run
    from siyu.audience.saved import get

    st = get_state(request)
    with st.warehouse() as ws:
        bilingual(get, ws, name)  # 404 before any work
        got = run(ws, name, body.as_of)
    st.data_changed()
    return got


@router.get("/saved/{name}/members", summary="A page of members")
def members_page(name: Name, request: Request,
                 offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
                 limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                 p: Principal = Depends(require("audiences"))) -> dict:
    """Consumer ids of the audience at its last refresh, by id."""
    from siyu.audience.refresh import AUDIENCE_MEMBERS, ensure_tables
    from siyu.audience.saved import get

    with get_state(request).warehouse() as ws:
        info = bilingual(get, ws, name)
        ensure_tables(ws)
        con = ws.warehouse.raw
        total = con.execute(f"SELECT count(*) FROM {AUDIENCE_MEMBERS} WHERE audience = ?",
                            [name]).fetchone()[0]
        ids = [r[0] for r in con.execute(
            f"SELECT consumer_id FROM {AUDIENCE_MEMBERS} WHERE audience = ? "
            "ORDER BY consumer_id LIMIT ? OFFSET ?", [name, limit, offset]).fetchall()]
    return {"audience": name, "last_refresh": info["last_refresh"], "total": int(total),
            "offset": offset, "limit": limit, "members": ids}


@router.post("/saved/{name}/export", summary="Export a saved audience (CSV; audited)",
             response_class=Response,
             responses={200: {"content": {"text/csv": {}}}})
def export_saved(name: Name, request: Request,
                 p: Principal = Depends(require("export"))) -> Response:
    """The members at the last refresh with their masked keys and attributes, as CSV (`siyu
    audience export`); written to the audit log."""
    import secrets

    from siyu.audience.export import export as run

    st = get_state(request)
    with st.warehouse() as ws:
        out = ws.tmp_dir / f"export-{secrets.token_hex(6)}.csv"
        try:
            try:
                run(ws, name, out, actor=p.actor)
            except SiyuError as e:
                raise from_siyu_error(e) from None
            data = out.read_bytes()
        finally:
            out.unlink(missing_ok=True)
    return Response(data, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
