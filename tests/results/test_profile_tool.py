"""``benchmarks/profile_metrics.py`` (a developer's tool, run as its own process) still runs
the real compute and accounts for every family."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from siyu.results import RESULTS
from tests.models.test_tiers import march_brand

TOOL = Path(__file__).resolve().parents[2] / "benchmarks" / "profile_metrics.py"


def test_profile_lists_every_stage_and_stores_the_results(ws, tmp_path):
    march_brand().load(ws, tmp_path)
    home = ws.home
    ws.close()  # one writer per DuckDB file: the tool opens the workspace itself
    p = subprocess.run([sys.executable, str(TOOL), "--home", str(home), "--from", "2025-02",
                        "--to", "2025-03"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert re.fullmatch(r"2 periods, batches of \d+", lines[0])
    stages = {ln.split()[0] for ln in lines[lines.index(
        "stage                      wall s   CPU s") + 1:] if ln.strip()
        and not ln.startswith("engine")}
    assert {"inputs", "tier_pairs", "store", *(r.name for r in RESULTS)} <= stages
    assert any(ln.startswith("engine tables kept (Table.cache): ") for ln in lines)

    import duckdb

    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        got = con.execute("SELECT period, capital, previous_capital, deepened FROM "
                          "metrics_fast WHERE grain = 'month' ORDER BY period").fetchall()
    finally:
        con.close()
    # as tests/models/test_fast.py finds for this brand
    assert got == [("2025-02", 14, 0, 0), ("2025-03", 14, 14, 9)]
