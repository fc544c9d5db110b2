"""journeys, enrolments, guide tasks, consent events and the outbox (issue 6)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("idempotency_key", sa.String(160), nullable=False, unique=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("consumer_id", sa.String(64)),
        sa.Column("recipient", sa.Text),
        sa.Column("guide_id", sa.String(64)),
        sa.Column("purpose", sa.String(32)),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("source", sa.String(64)),
        sa.Column("enrolment_id", sa.String(64)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("provider_message_id", sa.String(128)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("read_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_outbox_due", "outbox", ["status", "next_attempt_at"])
    # issue 6, journeys (siyu.activation)
    op.create_table(
        "journeys",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("current_version", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("trigger_type", sa.String(32), nullable=False),
        sa.Column("trigger_cursor", sa.DateTime(timezone=True)),
        sa.Column("trigger_load", sa.String(64)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "journey_versions",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("definition", sa.JSON, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("checksum", sa.String(16), nullable=False),
        sa.Column("deployed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deployed_by", sa.String(128), nullable=False),
    )
    op.create_table(
        "journey_enrolments",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("journey", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("consumer_id", sa.String(64), nullable=False),
        sa.Column("trigger_ref", sa.String(200), nullable=False),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("step", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("next_step_at", sa.DateTime(timezone=True)),
        sa.Column("wait_started_at", sa.DateTime(timezone=True)),
        sa.Column("arm", sa.String(64)),
        sa.Column("exit_reason", sa.String(128)),
        sa.Column("lease_owner", sa.String(128)),
        sa.Column("lease_until", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_journey_enrolments_due", "journey_enrolments",
                    ["status", "next_step_at"])
    op.create_index("ix_journey_enrolments_consumer", "journey_enrolments",
                    ["journey", "consumer_id"])
    op.create_table(
        "journey_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("enrolment_id", sa.String(40), nullable=False),
        sa.Column("journey", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("step", sa.String(64)),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(64)),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.JSON),
    )
    op.create_index("ix_journey_log_journey", "journey_log", ["journey", "kind"])
    op.create_table(
        "consent_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("consumer_id", sa.String(64), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("granted", sa.Boolean, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("source", sa.String(64)),
    )
    op.create_index("ix_consent_events_consumer", "consent_events", ["consumer_id"])
    op.create_table(
        "send_counters",
        sa.Column("consumer_id", sa.String(64), primary_key=True),
        sa.Column("bucket", sa.String(48), primary_key=True),
        sa.Column("count", sa.Integer, nullable=False),
    )
    op.create_table(
        "coupon_grants",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("idempotency_key", sa.String(160), nullable=False, unique=True),
        sa.Column("consumer_id", sa.String(64), nullable=False),
        sa.Column("template_id", sa.String(64), nullable=False),
        sa.Column("face_value", sa.Float, nullable=False),
        sa.Column("threshold", sa.Float, nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(64)),
        sa.Column("enrolment_id", sa.String(40)),
    )
    op.create_table(
        "engine_clock",
        sa.Column("name", sa.String(16), primary_key=True),
        sa.Column("now", sa.DateTime(timezone=True), nullable=False),
    )
    # end of journeys
    # issue 6, guide tasks (siyu.activation.tasks / assignment / handover)
    op.create_table(
        "guide_tasks",
        sa.Column("task_id", sa.String(64), primary_key=True),
        sa.Column("idempotency_key", sa.String(200), nullable=False, unique=True),
        sa.Column("consumer_id", sa.String(64), nullable=False),
        sa.Column("guide_id", sa.String(64)),
        sa.Column("store_id", sa.String(64)),
        sa.Column("assigned_by", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("script", sa.Text),
        sa.Column("source", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("result", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("available_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
        sa.Column("invite_day", sa.Date),
    )
    op.create_index("ix_guide_tasks_guide", "guide_tasks", ["guide_id", "status", "due_at"])
    op.create_index("ix_guide_tasks_consumer", "guide_tasks", ["consumer_id"])
    op.create_index("ix_guide_tasks_invites", "guide_tasks", ["guide_id", "invite_day"])
    op.create_table(
        "guide_task_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("task_id", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("guide_id", sa.String(64)),
        sa.Column("detail", sa.JSON),
    )
    op.create_index("ix_guide_task_events_task", "guide_task_events", ["task_id"])
    op.create_table(
        "guide_holders",
        sa.Column("consumer_id", sa.String(64), primary_key=True),
        sa.Column("guide_id", sa.String(64)),
        sa.Column("store_id", sa.String(64)),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "guide_roster",
        sa.Column("guide_id", sa.String(64), primary_key=True),
        sa.Column("store_id", sa.String(64)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "guide_overrides",
        sa.Column("consumer_id", sa.String(64), primary_key=True),
        sa.Column("from_guide", sa.String(64), nullable=False),
        sa.Column("to_guide", sa.String(64), nullable=False),
        sa.Column("handover_id", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "guide_handovers",
        sa.Column("handover_id", sa.String(64), primary_key=True),
        sa.Column("from_guide", sa.String(64), nullable=False),
        sa.Column("to_guide", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("consumers", sa.Integer, nullable=False),
        sa.Column("tasks", sa.Integer, nullable=False),
    )
    op.create_table(
        "guide_handover_consumers",
        sa.Column("handover_id", sa.String(64), primary_key=True),
        sa.Column("consumer_id", sa.String(64), primary_key=True),
        sa.Column("previous_guide", sa.String(64), nullable=False),
    )
    # end of guide tasks


def downgrade() -> None:
    # issue 6, journeys
    op.drop_index("ix_consent_events_consumer", table_name="consent_events")
    op.drop_index("ix_journey_log_journey", table_name="journey_log")
    op.drop_index("ix_journey_enrolments_consumer", table_name="journey_enrolments")
    op.drop_index("ix_journey_enrolments_due", table_name="journey_enrolments")
    for name in ("engine_clock", "coupon_grants", "send_counters", "consent_events",
                 "journey_log", "journey_enrolments", "journey_versions", "journeys"):
        op.drop_table(name)
    # end of journeys
    # issue 6, guide tasks
    for name in ("guide_handover_consumers", "guide_handovers", "guide_overrides",
                 "guide_roster", "guide_holders"):
        op.drop_table(name)
    op.drop_index("ix_guide_task_events_task", table_name="guide_task_events")
    op.drop_table("guide_task_events")
    for ix in ("ix_guide_tasks_invites", "ix_guide_tasks_consumer", "ix_guide_tasks_guide"):
        op.drop_index(ix, table_name="guide_tasks")
    op.drop_table("guide_tasks")
    # end of guide tasks
    op.drop_index("ix_outbox_due", table_name="outbox")
    op.drop_table("outbox")
