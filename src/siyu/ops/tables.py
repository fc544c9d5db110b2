"""Operational-store tables (SQLAlchemy Core). Schema changes go through Alembic migrations in
``siyu/ops/migrations``; ``tests/ops`` checks that the migrations produce exactly these tables."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
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

# manual tags (手工标签, `siyu tag set` / `siyu tag import`): the key as given (normalised; a
# consumer key or a consumer id), resolved through OneID at every `siyu tag compute`, which
# never changes these rows. One row per key and tag; the latest row wins when two keys of one
# consumer carry the same tag.
manual_tags = Table(
    "manual_tags", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(200), nullable=False, doc="consumer key (type:value) or consumer id"),
    Column("consumer_id", String(64), doc="the consumer the key resolved to when set"),
    Column("tag", String(64), nullable=False),
    Column("tag_group", String(64), nullable=False),
    Column("value", Text),
    Column("actor", String(128), nullable=False, doc="cli:<os user>, user, api key"),
    Column("source", String(200), nullable=False, doc="cli | csv:<file name>:<line> | api"),
    Column("set_at", DateTime(timezone=True), nullable=False),
    Index("uq_manual_tags_key_tag", "key", "tag", unique=True),
)

# saved audiences (人群, `siyu audience save`): the text as typed, its JSON tree, and the last
# refresh (members live in the warehouse tables audience_members / audience_changes)
audiences = Table(
    "audiences", metadata,
    Column("name", String(128), primary_key=True),
    Column("expr", Text, nullable=False, doc="the expression's canonical text"),
    Column("tree", JSON, nullable=False, doc="the JSON form of the tree (siyu.audience.jsonform)"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(128), nullable=False, doc="actor: cli:<os user>, user, api key"),
    Column("last_refresh_id", String(64), doc="audience_refreshes.refresh_id of the last refresh"),
)

# one row per refresh of one audience: when, at which as_of, how many members, entered, left
audience_refreshes = Table(
    "audience_refreshes", metadata,
    Column("refresh_id", String(64), primary_key=True),
    Column("audience", String(128), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("as_of", Date, nullable=False, doc="brand-local day the members were computed at"),
    Column("members", BigInteger, nullable=False),
    Column("entered", BigInteger, nullable=False),
    Column("left", BigInteger, nullable=False),
    Column("ms", Integer, nullable=False, doc="milliseconds the refresh took"),
    Index("ix_audience_refreshes_audience", "audience", "at"),
)

# --- issue 6: journeys, enrolments, guide tasks, consent (migration 0003) ------------------

# issue 6, journeys (siyu.activation: definition / store / engine / consent) ················
# A journey's versions: a deployed definition never changes; enrolments keep their version.
journeys = Table(
    "journeys", metadata,
    Column("name", String(64), primary_key=True),
    Column("title", Text, nullable=False),
    Column("current_version", Integer, nullable=False),
    Column("status", String(16), nullable=False, doc="active | paused"),
    Column("trigger_type", String(32), nullable=False),
    Column("trigger_cursor", DateTime(timezone=True),
           doc="trigger events up to this instant have been read"),
    Column("trigger_load", String(64),
           doc="event triggers on the real clock: warehouse imports up to this _load_id "
               "have been read (rows imported late enrol too)"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

journey_versions = Table(
    "journey_versions", metadata,
    Column("name", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("definition", JSON, nullable=False, doc="the validated YAML document"),
    Column("source", Text, nullable=False, doc="the YAML text as deployed"),
    Column("checksum", String(16), nullable=False),
    Column("deployed_at", DateTime(timezone=True), nullable=False),
    Column("deployed_by", String(128), nullable=False),
)

# One consumer's way through one journey version. status: active → done | exited | failed.
# The id is derived from (journey, consumer, triggering row): a row never enrols twice.
# lease_owner / lease_until: the worker processing it (SKIP LOCKED claim on PostgreSQL).
journey_enrolments = Table(
    "journey_enrolments", metadata,
    Column("id", String(40), primary_key=True),
    Column("journey", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("consumer_id", String(64), nullable=False),
    Column("trigger_ref", String(200), nullable=False),
    Column("enrolled_at", DateTime(timezone=True), nullable=False),
    Column("step", String(64), nullable=False, doc="the step to run next (or the last run)"),
    Column("seq", Integer, nullable=False, doc="steps run so far (part of idempotency keys)"),
    Column("status", String(16), nullable=False),
    Column("next_step_at", DateTime(timezone=True)),
    Column("wait_started_at", DateTime(timezone=True)),
    Column("arm", String(64), doc="split arm taken (holdout included)"),
    Column("exit_reason", String(128)),
    Column("lease_owner", String(128)),
    Column("lease_until", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_journey_enrolments_due", "status", "next_step_at"),
    Index("ix_journey_enrolments_consumer", "journey", "consumer_id"),
)

# What happened to enrolments: entered, step, suppressed (reason), deferred, coupon,
# tag (a manual tag set or removed), task, webhook, exited, done, failed.
journey_log = Table(
    "journey_log", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("enrolment_id", String(40), nullable=False),
    Column("journey", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("step", String(64)),
    Column("kind", String(16), nullable=False),
    Column("reason", String(64)),
    Column("at", DateTime(timezone=True), nullable=False, doc="engine (possibly simulated) time"),
    Column("detail", JSON),
    Index("ix_journey_log_journey", "journey", "kind"),
)

# Consent changes recorded through siyu (`siyu consent revoke|grant`; the imported history
# is the warehouse table `consents`). Effective at once for every later send.
consent_events = Table(
    "consent_events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("consumer_id", String(64), nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("granted", Boolean, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("source", String(64)),
    Index("ix_consent_events_consumer", "consumer_id"),
)

# Marketing sends per consumer and bucket (d:<local day>:<channel>, w:<ISO week>) for caps.
send_counters = Table(
    "send_counters", metadata,
    Column("consumer_id", String(64), primary_key=True),
    Column("bucket", String(48), primary_key=True),
    Column("count", Integer, nullable=False),
)

# Coupons granted by journeys (the `coupon` action), for the loyalty ledger to take up.
coupon_grants = Table(
    "coupon_grants", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("idempotency_key", String(160), nullable=False, unique=True),
    Column("consumer_id", String(64), nullable=False),
    Column("template_id", String(64), nullable=False),
    Column("face_value", Float, nullable=False),
    Column("threshold", Float, nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("source", String(64)),
    Column("enrolment_id", String(40)),
)

# The simulated clock of `siyu run --until` (name 'sim').
engine_clock = Table(
    "engine_clock", metadata,
    Column("name", String(16), primary_key=True),
    Column("now", DateTime(timezone=True), nullable=False),
)

# issue 6, loyalty points 积分 (siyu.activation.points; migration 0006) ·····················
# One row per grant (with its expiry) or redemption; balances and expiring points are derived
# (redemptions use the grants that expire first).
points_ledger = Table(
    "points_ledger", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("idempotency_key", String(160), nullable=False, unique=True),
    Column("consumer_id", String(64), nullable=False),
    Column("kind", String(8), nullable=False, doc="grant | redeem"),
    Column("points", Integer, nullable=False, doc="> 0"),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), doc="grants: when unused points lapse"),
    Column("reason", String(200)),
    Column("source", String(128), nullable=False, doc="cli:<actor> or journey:<name>/<step>"),
    Index("ix_points_ledger_consumer", "consumer_id", "at"),
    Index("ix_points_ledger_expires", "expires_at"),
)
# end of journeys

# issue 6, guide tasks 导购任务 (siyu.activation.tasks / assignment / handover) ···············
# A task for a shopping guide about one consumer. status: open → done | skipped | expired.
# An invitation (kind `invite`) beyond the guide's daily limit waits: available_at moves to a
# later brand-local day (invite_day) and a `deferred` event records the suppression.
guide_tasks = Table(
    "guide_tasks", metadata,
    Column("task_id", String(64), primary_key=True),
    Column("idempotency_key", String(200), nullable=False, unique=True),
    Column("consumer_id", String(64), nullable=False),
    Column("guide_id", String(64), doc="null = waiting in the unassigned pool"),
    Column("store_id", String(64)),
    Column("assigned_by", String(16), nullable=False,
           doc="explicit | holder | handover | store | pool | unassigned"),
    Column("kind", String(32), nullable=False, doc="invite | care | reminder | follow_up | …"),
    Column("title", Text, nullable=False),
    Column("script", Text, doc="what the guide says (Chinese), consumer fields filled in"),
    Column("source", String(128), nullable=False, doc="rule:<name>, journey:<id>/<step>, cli"),
    Column("status", String(16), nullable=False),
    Column("result", Text, doc="the guide's report (done) or reason (skipped)"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("available_at", DateTime(timezone=True), nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("closed_at", DateTime(timezone=True)),
    Column("invite_day", Date, doc="brand-local day an invitation counts against"),
    Index("ix_guide_tasks_guide", "guide_id", "status", "due_at"),
    Index("ix_guide_tasks_consumer", "consumer_id"),
    Index("ix_guide_tasks_invites", "guide_id", "invite_day"),
)

guide_task_events = Table(
    "guide_task_events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("task_id", String(64), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("event", String(16), nullable=False,
           doc="created | deferred | done | skipped | expired | handed_over"),
    Column("guide_id", String(64), doc="the task's guide after the event"),
    Column("detail", JSON, doc="reason, previous guide, handover id; never personal data"),
    Index("ix_guide_task_events_task", "task_id"),
)

# Who holds each consumer per the warehouse relationships (field `guide`), copied here by
# `assignment.refresh` so assignment is one indexed lookup inside the caller's transaction.
guide_holders = Table(
    "guide_holders", metadata,
    Column("consumer_id", String(64), primary_key=True),
    Column("guide_id", String(64), doc="guide of the latest active `guide` relationship"),
    Column("store_id", String(64), doc="that guide's store, else the consumer's store"),
    Column("synced_at", DateTime(timezone=True), nullable=False),
)

guide_roster = Table(
    "guide_roster", metadata,
    Column("guide_id", String(64), primary_key=True),
    Column("store_id", String(64)),
    Column("status", String(16), nullable=False, doc="active | left"),
    Column("synced_at", DateTime(timezone=True), nullable=False),
)

# 离职继承: a handed-over consumer goes to to_guide while the warehouse still shows from_guide.
guide_overrides = Table(
    "guide_overrides", metadata,
    Column("consumer_id", String(64), primary_key=True),
    Column("from_guide", String(64), nullable=False, doc="holder in the warehouse at handover"),
    Column("to_guide", String(64), nullable=False),
    Column("handover_id", String(64), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)

guide_handovers = Table(
    "guide_handovers", metadata,
    Column("handover_id", String(64), primary_key=True),
    Column("from_guide", String(64), nullable=False),
    Column("to_guide", String(64), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("consumers", Integer, nullable=False),
    Column("tasks", Integer, nullable=False),
)

guide_handover_consumers = Table(
    "guide_handover_consumers", metadata,
    Column("handover_id", String(64), primary_key=True),
    Column("consumer_id", String(64), primary_key=True),
    Column("previous_guide", String(64), nullable=False),
)

# --- issue 7: channels (migration 0004) -----------------------------------------------------
# siyu.channels: the dispatcher's attempt log and receipts, cached access tokens, per-channel
# pauses (rate limits), the callback replay guard and the inbound callback events.
channel_attempts = Table(
    "channel_attempts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("outbox_id", Integer, nullable=False),
    Column("attempt", Integer, nullable=False, doc="outbox.attempts when claimed (1, 2, …)"),
    Column("channel", String(32), nullable=False),
    Column("worker", String(64), nullable=False, doc="host:pid of the dispatcher"),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), doc="null = in flight (or the worker died)"),
    Column("outcome", String(16),
           doc="sent | retry | unknown (no answer: maybe delivered) | dead | deferred | lost "
               "(worker died; lease expired)"),
    Column("error", Text, doc="provider error code and message; never message text"),
    Column("provider_message_id", String(128)),
    Index("ix_channel_attempts_outbox", "outbox_id", "attempt"),
)

channel_receipts = Table(
    "channel_receipts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("outbox_id", Integer, nullable=False),
    Column("status", String(16), nullable=False, doc="sent | delivered | failed | read"),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("provider_message_id", String(128)),
    Column("detail", JSON, doc="provider status code; never personal data"),
    Index("ux_channel_receipts", "outbox_id", "status", unique=True),
)

channel_tokens = Table(
    "channel_tokens", metadata,
    Column("name", String(64), primary_key=True, doc="wecom:<corp id>, official_account:<appid>…"),
    Column("token", Text, nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

channel_state = Table(
    "channel_state", metadata,
    Column("channel", String(32), primary_key=True),
    Column("paused_until", DateTime(timezone=True), doc="rate-limited: no claims before this"),
    Column("reason", Text),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

callback_nonces = Table(
    "callback_nonces", metadata,
    Column("source", String(32), primary_key=True),
    Column("timestamp", String(16), primary_key=True),
    Column("nonce", String(64), primary_key=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
)

channel_inbound = Table(
    "channel_inbound", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(32), nullable=False, doc="wecom"),
    Column("event_key", String(64), nullable=False, unique=True,
           doc="hash of the event's identifying fields: a redelivered callback is stored once"),
    Column("event", String(64), nullable=False, doc="change_external_contact | …"),
    Column("change_type", String(64)),
    Column("occurred_at", DateTime(timezone=True), nullable=False, doc="the event's CreateTime"),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("fields", JSON, nullable=False, doc="UserID, ExternalUserID, ChatId, State, …"),
    Column("welcome_code", Text, doc="for send_welcome_msg (valid 20 s after the event)"),
    Column("status", String(16), nullable=False, doc="pending | imported | ignored | failed"),
    Column("load_id", String(64), doc="the import run that loaded its rows"),
    Column("error", Text),
    Index("ix_channel_inbound_status", "status", "id"),
)

# --- issue 8: console and API users, sessions, API keys (migration 0005) -------------------
# A person signs in to the console with a name and password (hashed with scrypt, salted); a
# machine calls the API with an API key (only its SHA-256 is stored). role: admin | operator |
# analyst | guide (siyu.web.roles); a guide user is tied to its guide_id and sees only its own
# customers and tasks. A session row backs the signed session cookie (its id stored hashed).
console_users = Table(
    "console_users", metadata,
    Column("name", String(64), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("guide_id", String(64), doc="the guide (DOMAIN §2 guides) a guide user acts as"),
    Column("password_hash", Text, nullable=False, doc="scrypt$n$r$p$salt$hash (hex)"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("last_login_at", DateTime(timezone=True),
           doc="the last successful sign-in (migration 0007; `siyu user list`)"),
)

console_sessions = Table(
    "console_sessions", metadata,
    Column("id_hash", String(64), primary_key=True, doc="SHA-256 of the session id"),
    Column("user_name", String(64), ForeignKey("console_users.name", ondelete="CASCADE"),
           nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

api_keys = Table(
    "api_keys", metadata,
    Column("name", String(64), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("guide_id", String(64)),
    Column("key_hash", String(64), nullable=False, unique=True, doc="SHA-256 of the key"),
    Column("prefix", String(16), nullable=False, doc="the key's first characters, to tell "
                                                     "keys apart"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_used_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
)
