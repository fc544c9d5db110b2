"""Hand-built OneID inputs: keys in ``key_seen``, links in ``identity_links``."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from siyu.identity.keys import key_type

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def day(n: float | None) -> datetime | None:
    """``n`` days after 2024-01-01 UTC (``None`` stays ``None``)."""
    return None if n is None else T0 + timedelta(days=n)


TEST_SALT = "test-salt"
"""The id salt every test workspace gets from SIYU_ID_SALT (tests/conftest.py)."""


def cid(key: str, salt: str = TEST_SALT) -> str:
    """The consumer id OneID derives from a component's oldest key."""
    return "c" + hashlib.md5((salt + key).encode()).hexdigest()[:16]


def add_keys(ws, keys: dict[str, float | None] | list[str], load_id: str = "L1") -> None:
    """Register keys in ``key_seen`` (first seen ``day(value)``; a list means unknown time)."""
    if isinstance(keys, list):
        keys = dict.fromkeys(keys)
    rows = [(k, key_type(k), day(d), day(d), 1, "consumers", load_id) for k, d in keys.items()]
    if rows:
        ws.warehouse.raw.executemany(
            "INSERT INTO key_seen VALUES (?, ?, ?, ?, ?, ?, ?)", rows)


def add_links(ws, links: list[tuple]) -> None:
    """Append links ``(key_a, key_b[, observed day[, source]])``."""
    rows = []
    for link in links:
        a, b, *rest = link
        when = day(rest[0]) if rest else None
        source = rest[1] if len(rest) > 1 else "test"
        rows.append((a, b, source, when))
    if rows:
        ws.warehouse.raw.executemany(
            "INSERT INTO identity_links (key_a, key_b, source, observed_at) VALUES (?, ?, ?, ?)",
            rows)


def id_map(ws) -> dict[str, str]:
    """key → consumer_id from ``identity_map``."""
    return dict(ws.warehouse.raw.execute(
        "SELECT key, consumer_id FROM identity_map").fetchall())


def groups(ws) -> set[frozenset[str]]:
    """The partition of keys into consumers."""
    by: dict[str, set[str]] = {}
    for k, c in id_map(ws).items():
        by.setdefault(c, set()).add(k)
    return {frozenset(v) for v in by.values()}


def conflicts(ws) -> list[tuple]:
    return ws.warehouse.raw.execute(
        "SELECT key_a, key_b, source, observed_at, kept_consumer_id_a, kept_consumer_id_b, reason"
        " FROM identity_conflicts ORDER BY observed_at NULLS LAST, key_a, key_b").fetchall()


def changes(ws) -> list[tuple]:
    return ws.warehouse.raw.execute(
        "SELECT old_consumer_id, new_consumer_id, change FROM identity_id_changes"
        " ORDER BY changed_at, old_consumer_id, new_consumer_id").fetchall()


def reset(ws) -> None:
    """Empty the inputs and drop the OneID outputs."""
    con = ws.warehouse.raw
    con.execute("DELETE FROM key_seen")
    con.execute("DELETE FROM identity_links")
    for t in ("identity_map", "identity_conflicts", "identity_id_changes"):
        con.execute(f"DROP TABLE IF EXISTS {t}")
