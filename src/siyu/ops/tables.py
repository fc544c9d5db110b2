"""Operational-store tables (SQLAlchemy Core). Schema changes go through Alembic migrations in
``siyu/ops/migrations``; ``tests/ops`` checks that the migrations produce exactly these tables."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

import_runs = Table(
    "import_runs", metadata,
    Column("load_id", String(64), primary_key=True),
    Column("table_name", String(64), nullable=False),
    Column("source", Text, nullable=False, doc="file path (or 'api')"),
    Column("status", String(16), nullable=False, doc="running | done | failed"),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("read", BigInteger, nullable=False, default=0),
    Column("loaded", BigInteger, nullable=False, default=0),
    Column("duplicates", BigInteger, nullable=False, default=0),
    Column("rejected", BigInteger, nullable=False, default=0),
    Column("rejects_file", Text),
    Column("error", Text),
)

identity_runs = Table(
    "identity_runs", metadata,
    Column("run_id", String(64), primary_key=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("status", String(16), nullable=False),
    Column("keys", BigInteger),
    Column("consumers", BigInteger),
    Column("links", BigInteger),
    Column("conflicts", Integer),
    Column("report", JSON),
)
