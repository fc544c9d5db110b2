"""import and identity runs

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "import_runs",
        sa.Column("load_id", sa.String(64), primary_key=True),
        sa.Column("table_name", sa.String(64), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("read", sa.BigInteger, nullable=False),
        sa.Column("loaded", sa.BigInteger, nullable=False),
        sa.Column("duplicates", sa.BigInteger, nullable=False),
        sa.Column("rejected", sa.BigInteger, nullable=False),
        sa.Column("rejects_file", sa.Text),
        sa.Column("error", sa.Text),
    )
    op.create_table(
        "identity_runs",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("keys", sa.BigInteger),
        sa.Column("consumers", sa.BigInteger),
        sa.Column("links", sa.BigInteger),
        sa.Column("conflicts", sa.Integer),
        sa.Column("report", sa.JSON),
    )


def downgrade() -> None:
    op.drop_table("identity_runs")
    op.drop_table("import_runs")
