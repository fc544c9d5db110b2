"""What the running server holds: the workspace, the warehouse lock, the session secret, a
cache of computed results and the event buffer.

DuckDB allows one writing process per file and one statement at a time per connection, so
every use of the warehouse goes through :meth:`ServerState.warehouse` (a re-entrant lock);
the operational store (SQLite/PostgreSQL) has its own connection pool and needs none.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["ServerState", "SECRET_FILE"]

SECRET_FILE = "web.secret"
"""The key that signs session cookies, created in the workspace on first serve (mode 0600)."""


def _secret(home: Path) -> bytes:
    p = home / SECRET_FILE
    if not p.exists():
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return bytes.fromhex(p.read_text().strip())


class ResultCache:
    """Results of the metric families, keyed by family and parameters, dropped whenever new
    data arrives (:meth:`clear`). Small: the console asks for a handful of periods."""

    def __init__(self, size: int = 64):
        self.size = size
        self._d: OrderedDict[tuple, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple, compute: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._d:
                self._d.move_to_end(key)
                return self._d[key]
        value = compute()
        with self._lock:
            self._d[key] = value
            while len(self._d) > self.size:
                self._d.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._d.clear()


class ServerState:
    """The one object the app's routes reach through ``request.app.state.siyu``."""

    def __init__(self, ws, *, session_hours: int | None = None):
        self.ws = ws
        self.settings = ws.settings
        self.session_hours = session_hours or ws.settings.web_session_hours
        self.secret = _secret(ws.home)
        self.cache = ResultCache()
        self._wh_lock = threading.RLock()
        from siyu.web.events import EventBuffer

        self.events = EventBuffer(self)

    @contextmanager
    def warehouse(self) -> Iterator[Any]:
        """The workspace, with the warehouse to oneself until the block ends."""
        with self._wh_lock:
            yield self.ws

    def cached(self, family: str, params: dict[str, Any], compute: Callable[[], Any]) -> Any:
        key = (family, tuple(sorted((k, v) for k, v in params.items() if v is not None)))
        return self.cache.get(key, compute)

    def data_changed(self) -> None:
        self.cache.clear()

    def close(self) -> None:
        self.events.close()
