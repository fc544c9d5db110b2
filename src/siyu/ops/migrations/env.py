"""Alembic environment: runs against the connection siyu hands over (``OpsStore.upgrade``)."""

from alembic import context
from sqlalchemy import create_engine

from siyu.ops.tables import metadata

config = context.config
connection = config.attributes.get("connection")


def _run(conn) -> None:
    context.configure(connection=conn, target_metadata=metadata,
                      render_as_batch=conn.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    _run(connection)
else:  # `alembic` command line with sqlalchemy.url set
    with create_engine(config.get_main_option("sqlalchemy.url")).begin() as conn:
        _run(conn)
