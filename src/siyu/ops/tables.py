"""Operational-store tables (SQLAlchemy Core). Schema changes go through Alembic migrations in
``siyu/ops/migrations``; ``tests/ops`` checks that the migrations produce exactly these tables."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
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

# --- the delivery outbox (issue 6 writes it, the channel dispatcher of issue 7 drains it) ----
# One row per message to deliver. Journeys insert a row in the same transaction as the step
# change that caused it; `idempotency_key` is unique, so a retried step never sends twice.
# status: pending → sending → sent | failed (will retry at next_attempt_at) | dead (gave up,
# last_error says why). read_at is set when a channel reports the message read.
outbox = Table(
    "outbox", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("idempotency_key", String(160), nullable=False, unique=True),
    Column("channel", String(32), nullable=False,
           doc="file | console | wecom | wecom_group | wecom_moments | official_account | "
               "miniprogram | sms | webhook"),
    Column("consumer_id", String(64), doc="the OneID consumer (null for group/moment sends)"),
    Column("recipient", Text, doc="channel address: external_userid, chat_id, openid, phone, "
                                  "URL"),
    Column("guide_id", String(64), doc="the guide who sends (WeCom) or owns the task"),
    Column("purpose", String(32), doc="consent purpose checked at send time (DOMAIN §12)"),
    Column("payload", JSON, nullable=False, doc="template id, rendered text, channel params"),
    Column("source", String(64), doc="journey:<id>/<step>, test, api"),
    Column("enrolment_id", String(64)),
    Column("status", String(16), nullable=False, default="pending"),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("last_error", Text),
    Column("provider_message_id", String(128)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True)),
    Column("read_at", DateTime(timezone=True)),
    Index("ix_outbox_due", "status", "next_attempt_at"),
)

# --- the audit log: every export, unmasked view, erase and consent change (DOMAIN §12) -----
audit_log = Table(
    "audit_log", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(128), nullable=False, doc="user name, api key name, or cli:<os user>"),
    Column("action", String(64), nullable=False,
           doc="export | unmasked_view | erase | consent_change | login | …"),
    Column("target", Text, doc="what was acted on: audience name, consumer id, file"),
    Column("detail", JSON, doc="counts, options; never personal data"),
    Index("ix_audit_log_at", "at"),
)

# --- issue 5: tags and audiences (migration 0002) ------------------------------------------

# --- issue 6: journeys, enrolments, guide tasks, consent (migration 0003) ------------------

# --- issue 7: channels (migration 0004) -----------------------------------------------------

# --- issue 8: console and API users, sessions, API keys (migration 0005) -------------------
