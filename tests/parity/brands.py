"""The hand-built brands the parity suite loads on both engines: name -> (builder, time zone).

A brand is loaded once per test session (DuckDB workspace through the real importer and OneID,
then copied into Spark); add one here when a model needs data the others lack.
"""

from __future__ import annotations

from collections.abc import Callable

from tests.models.builder import Brand
from tests.models.test_tiers import march_brand


def late_orders() -> Brand:
    """Orders just before and just after local midnight (brand-local day boundaries)."""
    b = Brand()
    b.order("member:late", "2025-03-16 23:30", 10, order_id="o-2330")
    b.order("member:late", "2025-03-17 00:30", 10, order_id="o-0030")
    return b


BRANDS: dict[str, tuple[Callable[[], Brand], str]] = {
    "march": (march_brand, "Asia/Shanghai"),
    # 23:30 local is the next UTC day west of UTC, 00:30 local the previous one east of it
    "late-shanghai": (late_orders, "Asia/Shanghai"),
    "late-new-york": (late_orders, "America/New_York"),
}
