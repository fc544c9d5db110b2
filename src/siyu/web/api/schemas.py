"""Request and response bodies of the API (they make the OpenAPI description)."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, Field

from siyu.web.events import MAX_ROWS


class Message(BaseModel):
    zh: str = Field(description="中文")
    en: str = Field(description="English")


class Error(BaseModel):
    """Every error the API returns."""

    code: str = Field(description="stable machine code: unauthenticated, forbidden, "
                                  "not_found, bad_request, invalid, not_ready, busy, failed…")
    message: Message


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Error, "description": "Bad input (a period, date or expression)."},
    401: {"model": Error, "description": "Not signed in and no valid X-API-Key."},
    403: {"model": Error, "description": "The role may not do this."},
    409: {"model": Error, "description": "Not ready: identities not resolved yet."},
    422: {"model": Error, "description": "The request does not match this description."},
}


class Login(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class Me(BaseModel):
    name: str
    role: str
    kind: str = Field(description="user | apikey")
    guide_id: str | None = None
    permissions: list[str]


class AudienceQuery(BaseModel):
    expression: str = Field(min_length=1, max_length=4000,
                            examples=['tier >= 3 and orders(last 90d) >= 2'],
                            description="An audience expression (docs/audiences.md).")
    as_of: date | None = Field(default=None, description="Evaluate at the end of this "
                               "brand-local day [default: today].")


class AudienceCount(BaseModel):
    count: int
    ms: float = Field(description="server time of parse, compile and count")
    expression: str = Field(description="the canonical text of the expression")


class EventBatch(BaseModel):
    rows: list[Any] = Field(max_length=MAX_ROWS, description=(
        "Up to 10,000 rows, each a JSON object with the table's columns (DOMAIN.md §2, "
        "`siyu schema TABLE`); extra keys are kept in `attrs`."))


class Reject(BaseModel):
    index: int = Field(description="position of the row in `rows` (0-based)")
    column: str
    code: str
    reason: str


class EventResult(BaseModel):
    table: str
    received: int
    accepted: int = Field(description="rows stored now or already stored before (idempotent)")
    rejected: int
    rejects: list[Reject]
    batch: dict[str, Any] | None = Field(description="the micro-batch these rows were loaded "
                                         "in: load_id, requests, read, loaded, duplicates, "
                                         "rejected")
