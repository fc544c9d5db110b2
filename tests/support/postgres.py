"""A throwaway PostgreSQL server for tests: ``initdb`` into a temporary directory, started with
``pg_ctl`` on a Unix socket only (no TCP port), stopped at the end of the session.

The binaries come from Debian's ``postgresql`` package (``make setup`` installs it when missing).
PostgreSQL refuses to run as root, so under root the server runs as the ``postgres`` system
user that the package creates.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

__all__ = ["PostgresServer", "find_bindir"]


def find_bindir() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl`` (newest Debian version first)."""
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(d) / "initdb").exists():
            return Path(d)
    found = shutil.which("initdb")
    return Path(found).resolve().parent if found else None


class PostgresServer:
    def __init__(self, port: int = 54329):
        self.bindir = find_bindir()
        if self.bindir is None:
            raise RuntimeError("PostgreSQL is not installed: run `make setup` "
                               "(installs Debian's postgresql package)")
        self.root = Path(tempfile.mkdtemp(prefix="siyu-pg-"))
        self.data = self.root / "data"
        self.socket = self.root / "sock"
        self.port = port
        self.user = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
        self._databases = 0

    def _run(self, *args: str) -> None:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, text=True)

    def start(self) -> PostgresServer:
        self.socket.mkdir(parents=True)
        if os.geteuid() == 0:
            os.chmod(self.root, 0o755)
            shutil.chown(self.root, "postgres")
            shutil.chown(self.socket, "postgres")
        self._run("initdb", "-D", str(self.data), "-U", self.user, "--auth=trust",
                  "--encoding=UTF8", "--locale=C.UTF-8")
        opts = (f"-c listen_addresses='' -c unix_socket_directories={self.socket} "
                f"-p {self.port} -c fsync=off -c synchronous_commit=off "
                "-c full_page_writes=off -c max_connections=60")
        self._run("pg_ctl", "-D", str(self.data), "-o", opts, "-w", "-l",
                  str(self.root / "server.log"), "start")
        return self

    def url(self, database: str = "postgres") -> str:
        return (f"postgresql+psycopg://{self.user}@/{database}"
                f"?host={self.socket}&port={self.port}")

    def new_database(self) -> str:
        """A fresh, empty database; its SQLAlchemy URL."""
        import sqlalchemy as sa

        self._databases += 1
        name = f"t{self._databases}"
        eng = sa.create_engine(self.url(), isolation_level="AUTOCOMMIT")
        with eng.connect() as c:
            c.exec_driver_sql(f"CREATE DATABASE {name}")
        eng.dispose()
        return self.url(name)

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
