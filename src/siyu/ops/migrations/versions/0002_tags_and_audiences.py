"""the audit log; tags (manual values) and saved audiences (issue 5)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.Text),
        sa.Column("detail", sa.JSON),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    # issue 5 tables below
    op.create_table(
        "manual_tags",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("consumer_id", sa.String(64)),
        sa.Column("tag", sa.String(64), nullable=False),
        sa.Column("tag_group", sa.String(64), nullable=False),
        sa.Column("value", sa.Text),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("uq_manual_tags_key_tag", "manual_tags", ["key", "tag"], unique=True)
    op.create_table(
        "audiences",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("expr", sa.Text, nullable=False),
        sa.Column("tree", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("last_refresh_id", sa.String(64)),
    )
    op.create_table(
        "audience_refreshes",
        sa.Column("refresh_id", sa.String(64), primary_key=True),
        sa.Column("audience", sa.String(128), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("members", sa.BigInteger, nullable=False),
        sa.Column("entered", sa.BigInteger, nullable=False),
        sa.Column("left", sa.BigInteger, nullable=False),
        sa.Column("ms", sa.Integer, nullable=False),
    )
    op.create_index("ix_audience_refreshes_audience", "audience_refreshes", ["audience", "at"])


def downgrade() -> None:
    # issue 5 tables above, dropped here in reverse
    op.drop_index("ix_audience_refreshes_audience", table_name="audience_refreshes")
    op.drop_table("audience_refreshes")
    op.drop_table("audiences")
    op.drop_index("uq_manual_tags_key_tag", table_name="manual_tags")
    op.drop_table("manual_tags")
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_table("audit_log")
