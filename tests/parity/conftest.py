"""Fixtures of the parity suite: one local Spark for the whole session, and each brand of
``brands.BRANDS`` loaded once on both engines."""

from __future__ import annotations

import time

import pytest

from tests.parity.engines import OnEngines, load_on_engines


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    """The local SparkSession (one core, two shuffle partitions), started once per session."""
    pytest.importorskip("pyspark", reason="pyspark is not installed (pip install -e '.[spark]')")
    from siyu.warehouse.spark import local_session

    t0 = time.perf_counter()
    # a short-lived JVM: C1 only (no optimising compiler) about halves Spark's warm-up here
    session = local_session(tmp_path_factory.mktemp("spark"), cores=1, shuffle_partitions=2,
                            java_options="-XX:TieredStopAtLevel=1")
    session.range(1).collect()  # the first job pays for class loading, not the first test
    print(f"\nSpark {session.version} local[1] started in {time.perf_counter() - t0:.1f}s")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def on_engines(spark, tmp_path_factory):
    """``on_engines("march")``: the brand of that name on both engines, built on first use
    (inside the calling test, so under its isolated environment) and kept for the session."""
    made: dict[str, OnEngines] = {}

    def get(name: str) -> OnEngines:
        if name not in made:
            made[name] = load_on_engines(name, spark, tmp_path_factory.mktemp(f"brand-{name}"))
        return made[name]

    yield get
    for b in made.values():
        b.ws.close()
