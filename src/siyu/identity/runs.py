"""OneID runs in the operational store (``identity_runs``): one row per ``resolve``."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from siyu.errors import UsageError
from siyu.ops import identity_runs

__all__ = ["new_run_id", "check_run_id", "record_start", "record_end", "last_run",
           "last_run_id"]

_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")


def new_run_id(now: datetime | None = None) -> str:
    """A fresh run id such as ``oneid-20261122T062800-3f9a1c`` (sorts by start time)."""
    now = now or datetime.now(UTC)
    return f"oneid-{now:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"


def check_run_id(run_id: str) -> str:
    if not _RUN_ID.fullmatch(run_id):
        raise UsageError(f"invalid run id {run_id!r}: use letters, digits and _.:- (≤ 64)")
    return run_id


def record_start(ops, run_id: str, started_at: datetime) -> None:
    try:
        with ops.engine.begin() as conn:
            conn.execute(insert(identity_runs).values(
                run_id=run_id, started_at=started_at, status="running"))
    except IntegrityError:
        raise UsageError(f"run id {run_id!r} is already used") from None


def record_end(ops, run_id: str, *, status: str, report: dict[str, Any]) -> None:
    with ops.engine.begin() as conn:
        conn.execute(update(identity_runs).where(identity_runs.c.run_id == run_id).values(
            finished_at=datetime.now(UTC), status=status, keys=report.get("keys"),
            consumers=report.get("consumers"), links=report.get("links"),
            conflicts=report.get("conflicts"), report=report))


def last_run(ops, status: str = "done") -> dict[str, Any] | None:
    """The latest run with ``status`` as a dict, or ``None``."""
    with ops.engine.connect() as conn:
        row = conn.execute(
            select(identity_runs).where(identity_runs.c.status == status)
            .order_by(identity_runs.c.started_at.desc()).limit(1)
        ).mappings().first()
    return dict(row) if row else None


def last_run_id(ops) -> str | None:
    """The id of the latest done run, or ``None`` (what stored results and indexes record as
    the identities they were built on)."""
    run = last_run(ops)
    return run["run_id"] if run else None
