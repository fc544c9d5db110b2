"""A workspace: one folder holding a brand's settings, warehouse and operational store.

    <home>/siyu.toml         settings (brand name, time zone…)
    <home>/warehouse.duckdb  the analytical warehouse (canonical and derived tables)
    <home>/ops.sqlite        the operational store (import runs, later journeys, outbox…)
    <home>/rejects/          one CSV of rejected rows per import run
    <home>/tmp/              engine spill space

The workspace is the one object every command, the API and workers start from
(``Workspace.open``); it hands out the warehouse and the operational store lazily.
"""

from __future__ import annotations

import os
import secrets
from functools import cached_property
from pathlib import Path

from siyu.config import SETTINGS_FILE, Settings, load_settings, write_settings
from siyu.errors import SiyuError, WorkspaceNotFound

__all__ = ["Workspace", "find_home"]


def find_home(home: Path | str | None = None, start: Path | None = None) -> Path:
    """The workspace folder: ``home`` if given, else ``$SIYU_HOME``, else the nearest folder
    from ``start`` (default: the current folder) upwards that holds a ``siyu.toml``."""
    if home:
        p = Path(home).expanduser()
        if not (p / SETTINGS_FILE).exists():
            raise WorkspaceNotFound(f"{p} is not a siyu workspace (no {SETTINGS_FILE}); "
                                    f"create one with `siyu init {p}`")
        return p.resolve()
    env = os.environ.get("SIYU_HOME")
    if env:
        return find_home(env)
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        if (d / SETTINGS_FILE).exists():
            return d
    raise WorkspaceNotFound("no siyu workspace here or above; run `siyu init DIR` "
                            "or pass --home DIR (or set SIYU_HOME)")


class Workspace:
    """An opened workspace. Cheap to create; stores open on first use."""

    def __init__(self, home: Path, settings: Settings | None = None):
        self.home = Path(home)
        self.settings = settings or load_settings(self.home / SETTINGS_FILE)

    # -- creation and discovery --------------------------------------------------------------
    @classmethod
    def init(cls, home: Path | str, *, brand_name: str | None = None,
             timezone: str | None = None, exist_ok: bool = False) -> Workspace:
        """Create a workspace at ``home``: settings file, warehouse tables, operational store."""
        home = Path(home).expanduser().resolve()
        settings_path = home / SETTINGS_FILE
        if settings_path.exists() and not exist_ok:
            raise SiyuError(f"{home} is already a siyu workspace")
        home.mkdir(parents=True, exist_ok=True)
        if not settings_path.exists():
            overrides = {k: v for k, v in
                         {"brand_name": brand_name, "timezone": timezone}.items() if v}
            s = load_settings(None, **overrides)  # validates the values before writing
            write_settings(settings_path, {"brand_name": s.brand_name, "timezone": s.timezone,
                                           "id_salt": secrets.token_hex(16)})
        ws = cls(home)
        ws.ensure()
        return ws

    @classmethod
    def open(cls, home: Path | str | None = None) -> Workspace:
        return cls(find_home(home))

    def ensure(self) -> None:
        """Create missing folders, warehouse tables and operational-store migrations."""
        for d in (self.rejects_dir, self.tmp_dir):
            d.mkdir(parents=True, exist_ok=True)
        self.warehouse.ensure_tables()
        self.ops.upgrade()

    # -- paths -------------------------------------------------------------------------------
    @property
    def settings_path(self) -> Path:
        return self.home / SETTINGS_FILE

    @property
    def warehouse_path(self) -> Path:
        p = Path(self.settings.warehouse_path)
        return p if p.is_absolute() else self.home / p

    @property
    def rejects_dir(self) -> Path:
        return self.home / "rejects"

    @property
    def tmp_dir(self) -> Path:
        return self.home / "tmp"

    @property
    def ops_url(self) -> str:
        return self.settings.ops_url or f"sqlite:///{self.home / 'ops.sqlite'}"

    # -- stores ------------------------------------------------------------------------------
    @cached_property
    def warehouse(self):
        from siyu.warehouse import Warehouse

        return Warehouse(self.warehouse_path, self.settings, tmp_dir=self.tmp_dir)

    @cached_property
    def ops(self):
        from siyu.ops import OpsStore

        return OpsStore(self.ops_url)

    def close(self) -> None:
        if "warehouse" in self.__dict__:
            self.warehouse.close()
            del self.__dict__["warehouse"]
        if "ops" in self.__dict__:
            self.ops.close()
            del self.__dict__["ops"]

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
