"""The audit log (DOMAIN §12): who exported, unmasked, erased or changed consent, and when.

Every surface (CLI, API, console, workers) records through :func:`record`; the detail holds
counts and options, never personal data.
"""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from siyu.ops.tables import audit_log

__all__ = ["record", "entries", "cli_actor"]


def cli_actor() -> str:
    """The actor name of a command-line user: ``cli:<os user>``."""
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name (containers without passwd entries)
        return "cli:unknown"


def record(ops, actor: str, action: str, target: str | None = None,
           detail: dict[str, Any] | None = None, *, conn=None) -> None:
    """Append one entry; inside ``conn``'s transaction when given (so it commits or rolls back
    with the action it records)."""
    row = {"at": datetime.now(UTC), "actor": actor, "action": action, "target": target,
           "detail": detail or {}}
    if conn is not None:
        conn.execute(audit_log.insert().values(**row))
        return
    with ops.engine.begin() as c:
        c.execute(audit_log.insert().values(**row))


def entries(ops, action: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """The latest entries, newest first (optionally of one action)."""
    q = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    if action is not None:
        q = q.where(audit_log.c.action == action)
    with ops.engine.connect() as c:
        return [dict(r._mapping) for r in c.execute(q)]
