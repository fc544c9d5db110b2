"""The Alembic migrations build exactly the tables ``siyu.ops.tables`` declares, and run twice
without harm."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from siyu.ops import OpsStore
from siyu.ops.tables import metadata


@pytest.fixture(params=["sqlite", "postgresql"])
def ops_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ops.sqlite'}"
    return request.getfixturevalue("postgres_url")


def test_migrations_match_the_declared_tables(ops_url):
    store = OpsStore(ops_url)
    store.upgrade()
    store.upgrade()  # idempotent
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
    assert set(inspect(store.engine).get_table_names()) == set(metadata.tables) | {
        "alembic_version"}
    store.close()


def test_downgrade_to_base_and_back(ops_url):
    from alembic import command

    store = OpsStore(ops_url)
    store.upgrade()
    with store.engine.begin() as conn:
        cfg = store.alembic_config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    assert set(inspect(store.engine).get_table_names()) <= {"alembic_version"}
    store.upgrade()
    assert set(metadata.tables) <= set(inspect(store.engine).get_table_names())
    store.close()
