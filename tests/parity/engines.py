"""A brand on both engines: its DuckDB workspace and the same tables copied into Spark."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import ibis

from siyu.config import load_settings
from siyu.models.sources import Sources
from siyu.workspace import Workspace
from tests.parity.brands import BRANDS

__all__ = ["ENGINES", "OnEngines", "load_on_engines"]

ENGINES = ("duckdb", "spark")


@dataclass
class OnEngines:
    """One brand, loaded into a DuckDB workspace and copied into Spark."""

    ws: Workspace
    backends: dict[str, ibis.BaseBackend]
    copied: dict[str, int] = field(default_factory=dict)
    """Rows of each table copied into Spark."""

    @property
    def zone(self) -> ZoneInfo:
        return self.ws.settings.zone

    def sources(self, engine: str, **settings) -> Sources:
        """The model inputs on ``engine``, with the workspace's settings (and ``settings``)."""
        s = load_settings(self.ws.settings_path, **settings) if settings else self.ws.settings
        return Sources(self.backends[engine], s)


def load_on_engines(name: str, spark, home: Path) -> OnEngines:
    """Build brand ``name`` of ``BRANDS`` under ``home``: a workspace in the brand's zone,
    loaded through the real importer and OneID, then copied into a new session of ``spark``."""
    from siyu.warehouse.spark import copy_warehouse, spark_backend

    build, zone = BRANDS[name]
    ws = Workspace.init(home / "ws", brand_name="测试品牌", timezone=zone)
    build().load(ws, home)
    sp = spark_backend(spark, ws.settings)
    copied = copy_warehouse(ws.warehouse, sp, home / "parquet")
    return OnEngines(ws, {"duckdb": ws.warehouse.ibis, "spark": sp}, copied)
