"""The warehouse on Apache Spark (PySpark, local mode here), reached through the same Ibis API.

Model code does not change: ``Sources(spark_backend(session, settings), settings)`` gives the
same tables as the DuckDB warehouse. Three things make the answers the same:

- **The session time zone is the brand's** (``spark.sql.session.timeZone``), as for DuckDB:
  Spark's ``TIMESTAMP`` is an instant (UTC inside) and calendar functions read it in the
  session zone, so ``.date()`` gives the brand-local day. Ibis sets the zone to UTC when it
  wraps a session; :func:`spark_backend` puts the brand's back.
- **Instants stay instants on the way over**: :func:`copy_warehouse` writes each DuckDB table to
  Parquet with DuckDB's ``COPY`` (``TIMESTAMPTZ`` becomes a Parquet timestamp adjusted to UTC)
  and Spark reads that as its instant ``TIMESTAMP`` (not ``TIMESTAMP_NTZ``).
- **Ibis is corrected where it assumes a UTC session**: Spark's ``TIMESTAMP`` is typed
  ``timestamp('UTC')`` like DuckDB's ``TIMESTAMPTZ``, and such results come back as UTC
  instants (Ibis 12 would return the brand-local wall clock labelled UTC).

Needs the ``spark`` extra (``pip install 'siyu[spark]'``) and a Java 17+ runtime. One Spark
context per process: :func:`local_session` starts it once; each :func:`spark_backend` gets its
own ``SparkSession.newSession()`` (own time zone, own temporary views) on that context.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import ibis

from siyu.config import Settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from siyu.warehouse import Warehouse

__all__ = ["local_session", "spark_backend", "session_of", "session_zone", "copy_warehouse",
           "warehouse_tables"]

_LOG4J2 = """\
# WARN at start-up: PySpark runs as Spark's "shell", which prints a banner and resets the
# console to WARN unless the root level already is WARN; local_session then lowers it to ERROR
rootLogger.level = warn
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n
logger.hadoop.name = org.apache.hadoop
logger.hadoop.level = error
# "spark.local.dir will be overridden by the cluster manager": not in local mode
logger.conf.name = org.apache.spark.SparkConf
logger.conf.level = error
"""


def local_session(work_dir: Path | str, *, cores: int = 1, driver_memory: str = "1g",
                  shuffle_partitions: int = 2, zone: str = "UTC", java_options: str = "",
                  conf: dict[str, str] | None = None) -> SparkSession:
    """Start (or return the running) local-mode SparkSession, kept small and quiet.

    ``cores`` worker threads (``local[N]``), ``shuffle_partitions`` partitions after a shuffle
    (Spark's default of 200 is for clusters; small data wants a handful), no web UI, bound to
    the loopback interface, logs at ERROR only, and every file Spark writes (warehouse folder,
    spill and shuffle space, the log configuration) under ``work_dir``. ``zone`` is only the
    starting session zone: :func:`spark_backend` sets the brand's on its own session.
    ``java_options`` go to the driver JVM (tests pass ``-XX:TieredStopAtLevel=1``: a short-lived
    JVM warms up about twice as fast without the optimising compiler); ``conf`` adds or
    overrides Spark settings. Settings that size the JVM only apply when no Spark context is
    running yet in this process.
    """
    from pyspark.sql import SparkSession

    work = Path(work_dir).resolve()
    (work / "local").mkdir(parents=True, exist_ok=True)
    log4j = work / "log4j2.properties"
    log4j.write_text(_LOG4J2, encoding="utf-8")
    # No network: the driver and its block manager listen on loopback only (this also skips
    # Spark's "hostname resolves to a loopback address" warning). Python workers (only for
    # UDFs) run this interpreter.
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    java_opts = (f"-Dlog4j2.configurationFile=file:{log4j} -Djava.io.tmpdir={work / 'local'} "
                 f"{java_options}").strip()
    builder = (
        SparkSession.builder.master(f"local[{int(cores)}]")
        .appName("siyu")
        .config("spark.driver.memory", driver_memory)
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.extraJavaOptions", java_opts)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", zone)
        .config("spark.sql.shuffle.partitions", str(int(shuffle_partitions)))
        .config("spark.default.parallelism", str(int(cores)))
        .config("spark.sql.warehouse.dir", str(work / "warehouse"))
        .config("spark.local.dir", str(work / "local"))
        .config("spark.sql.catalogImplementation", "in-memory")
        # results reach pandas (Ibis's execute) through Arrow, not row by row
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
    )
    for k, v in (conf or {}).items():
        builder = builder.config(k, v)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def session_of(backend: ibis.BaseBackend) -> SparkSession:
    """The SparkSession behind an Ibis PySpark backend."""
    return backend._session  # Ibis 12 keeps it there and has no public accessor


def session_zone(session: SparkSession) -> str:
    """The session time zone Spark's calendar functions use."""
    return session.conf.get("spark.sql.session.timeZone")


def spark_backend(session: SparkSession, settings: Settings, *,
                  isolated: bool = True) -> ibis.BaseBackend:
    """An Ibis PySpark backend whose session zone is the brand's (what models need).

    With ``isolated`` (the default) the backend gets a new session on ``session``'s Spark
    context: its own SQL settings and temporary views, so two brands (two zones) can share one
    JVM. Ibis sets the session zone to UTC when it connects; it is put back here, and checked.
    The backend is Ibis's own with two corrections for a non-UTC session zone (see
    :func:`_backend_class`).
    """
    s = session.newSession() if isolated else session
    backend = _backend_class()().connect(s)
    zone = settings.zone.key
    s.conf.set("spark.sql.session.timeZone", zone)
    if session_zone(s) != zone:  # pragma: no cover - a guard against a future Ibis change
        raise RuntimeError(f"Spark session zone is {session_zone(s)}, expected {zone}")
    return backend


@functools.cache
def _backend_class():
    """Ibis 12's PySpark backend, corrected where it assumes the session zone is UTC.

    1. **Types.** Spark's ``TIMESTAMP`` is an instant (``TIMESTAMP_LTZ``), but Ibis types it
       as a naive ``timestamp``. Here it is ``timestamp('UTC', 6)``, as DuckDB's
       ``TIMESTAMPTZ`` is, so a model has the same types on both engines (``TIMESTAMP_NTZ``
       stays naive).
    2. **Results.** Spark hands timestamps to pandas as naive wall-clock times *in the session
       zone*, and Ibis then labels them UTC: every ``timestamp('UTC')`` result would be off by
       the brand's offset. Here those columns travel as exact epoch microseconds
       (``unix_micros``) and become UTC instants in pandas, as DuckDB returns them. Naive
       timestamps keep Spark's (and DuckDB's) reading: the wall clock in the session zone.
    """
    import pandas as pd
    from ibis.backends.pyspark import Backend
    from ibis.backends.pyspark.converter import PySparkPandasData
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    def quoted(name: str) -> str:
        return "`" + name.replace("`", "``") + "`"

    # loading the backend the usual way registers its options (``ibis.options.pyspark``, read
    # when compiling float literals)
    ibis.load_backend("pyspark")

    class SparkBackend(Backend):
        def get_schema(self, table_name, *, catalog=None, database=None):
            schema = super().get_schema(table_name, catalog=catalog, database=database)
            if not any(t.is_timestamp() and t.timezone is None for t in schema.values()):
                return schema
            if not all(isinstance(x, str | None) for x in (catalog, database)):
                return schema  # a qualified name this cannot spell: Ibis's types unchanged
            parts = [x for x in (catalog, database, table_name) if x]
            struct = self._session.table(".".join(map(quoted, parts))).schema
            instants = {f.name for f in struct.fields if isinstance(f.dataType, T.TimestampType)}
            return ibis.schema({  # microseconds, like DuckDB's TIMESTAMPTZ
                n: t.copy(timezone="UTC", scale=6) if t.is_timestamp() and n in instants else t
                for n, t in schema.items()})

        def execute(self, expr, /, *, params=None, limit=None, **kwargs):
            self._run_pre_execute_hooks(expr)
            table = expr.as_table()
            schema = table.schema()
            df = self._session.sql(self.compile(table, params=params, limit=limit, **kwargs))
            instants = [n for n, t in schema.items() if t.is_timestamp() and t.timezone]
            if instants:
                df = df.select(*[F.unix_micros(F.col(quoted(n))).alias(n) if n in instants
                                 else F.col(quoted(n)) for n in df.columns])
            pdf = df.toPandas()
            for n in instants:
                pdf[n] = pd.to_datetime(pdf[n], unit="us", utc=True)
            return expr.__pandas_result__(PySparkPandasData.convert_table(pdf, schema))

    return SparkBackend


def warehouse_tables(warehouse: Warehouse) -> list[str]:
    """The tables models read: the canonical tables (DOMAIN.md §2) and ``identity_map``."""
    from siyu.identity.tables import MAP
    from siyu.schema import TABLES

    have = {r[0] for r in warehouse.raw.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
    ).fetchall()}
    return [n for n in (*TABLES, MAP) if n in have]


def copy_warehouse(warehouse: Warehouse, backend: ibis.BaseBackend, parquet_dir: Path | str,
                   tables: list[str] | None = None) -> dict[str, int]:
    """Copy warehouse tables into Spark: DuckDB ``COPY … TO`` Parquet under ``parquet_dir``,
    then a temporary view of the same name in ``backend``'s Spark session. Returns the row
    count of each table copied.

    The Parquet files are read lazily by Spark: keep ``parquet_dir`` while the views are used.
    ``TIMESTAMPTZ`` columns arrive as Spark ``TIMESTAMP`` holding the same instants.
    """
    session = session_of(backend)
    out = Path(parquet_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for name in tables if tables is not None else warehouse_tables(warehouse):
        f = out / f"{name}.parquet"
        path = str(f).replace("'", "''")
        row = warehouse.raw.execute(
            f"""COPY (SELECT * FROM "{name.replace('"', '""')}") TO '{path}' """
            "(FORMAT parquet, COMPRESSION zstd)"
        ).fetchall()
        counts[name] = int(row[0][0]) if row else 0
        reader = session.read
        schema = _spark_schema(f)
        if schema is not None:  # known types: Spark need not run a job to read the footer
            reader = reader.schema(schema)
        reader.parquet(str(f)).createOrReplaceTempView(name)
    return counts


def _spark_schema(parquet_file: Path):
    """The Spark schema of a Parquet file DuckDB wrote (``None`` for a type not mapped here,
    which leaves it to Spark to infer). Timestamps adjusted to UTC are Spark's instant
    ``TIMESTAMP``; others would be ``TIMESTAMP_NTZ``."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from pyspark.sql import types as T

    simple = {
        pa.string(): T.StringType(), pa.large_string(): T.StringType(),
        pa.bool_(): T.BooleanType(), pa.int8(): T.ByteType(), pa.int16(): T.ShortType(),
        pa.int32(): T.IntegerType(), pa.int64(): T.LongType(), pa.float32(): T.FloatType(),
        pa.float64(): T.DoubleType(), pa.date32(): T.DateType(), pa.binary(): T.BinaryType(),
    }
    fields = []
    for f in pq.read_schema(parquet_file):
        t = f.type
        if t in simple:
            st = simple[t]
        elif pa.types.is_decimal(t):
            st = T.DecimalType(t.precision, t.scale)
        elif pa.types.is_timestamp(t):
            st = T.TimestampType() if t.tz is not None else T.TimestampNTZType()
        else:
            return None
        fields.append(T.StructField(f.name, st, nullable=True))
    return T.StructType(fields)
