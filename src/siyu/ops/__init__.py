"""The operational store: state that changes a row at a time (import runs today; journeys,
outbox, tasks, consent, users and audit later). SQLAlchemy 2 + Alembic; SQLite by default,
PostgreSQL in production."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, create_engine, event

from siyu.ops.tables import identity_runs, import_runs, metadata

if TYPE_CHECKING:  # Alembic loads when migrations run, not with every CLI command
    from alembic.config import Config

__all__ = ["OpsStore", "metadata", "import_runs", "identity_runs"]

MIGRATIONS = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


class OpsStore:
    def __init__(self, url: str):
        self.url = url
        self.engine: Engine = create_engine(url, future=True)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)

    def alembic_config(self) -> Config:
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        return cfg

    def upgrade(self, revision: str = "head") -> None:
        """Apply pending migrations (run by `siyu init` and on open by commands that write)."""
        from alembic import command

        with self.engine.begin() as conn:
            cfg = self.alembic_config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)

    def close(self) -> None:
        self.engine.dispose()
