"""The import pipeline: read → validate → stage → dedupe and store, one file at a time.

Each file is one unit of work with its own load id:

1. a reader streams the file in batches of ``settings.import_batch_rows`` rows;
2. each batch is validated in DuckDB (:mod:`siyu.ingest.validate`); good rows go to a
   temporary staging table, bad ones to the rejects file with file, line, column and reason;
3. at the end of the file, in one transaction: rows whose id repeats an earlier row of the file
   or a stored row are counted as duplicates and dropped, the rest are appended to the
   canonical table, and the consumer keys they carry are registered in ``key_seen`` (OneID's
   node list).

A file that cannot be parsed at all raises :class:`~siyu.errors.UnreadableFile` and loads
nothing (the staging table is dropped; files imported before it in the same command stay
loaded). Memory stays bounded: batches are small and the staging table spills to disk.
"""

from __future__ import annotations

import csv
import secrets
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
from sqlalchemy import insert, update

from siyu.errors import SiyuError, UnreadableFile, UsageError
from siyu.i18n import tr
from siyu.ingest.readers import BadRecord, Reader, SqlSlice, detect_format, open_reader
from siyu.ingest.validate import REJECT_CODES, lit, q, validation_sql
from siyu.ops.tables import import_runs
from siyu.schema import TABLES, Table, get_table, import_order
from siyu.warehouse import scalar

__all__ = ["ImportResult", "FileResult", "import_files", "import_dir", "Progress"]

Progress = Callable[[Path, int, int, str], None]
"""Progress callback: (file, done, total, unit) with unit ``bytes`` or ``rows``."""

REJECT_HEADER = ("file", "line", "column", "code", "reason", "value", "row")


@dataclass
class FileResult:
    path: str
    load_id: str
    read: int = 0
    loaded: int = 0
    duplicates: int = 0
    rejected: int = 0
    seconds: float = 0.0


@dataclass
class ImportResult:
    """Totals of one ``siyu import`` of one table (one or more files)."""

    table: str
    read: int = 0
    loaded: int = 0
    duplicates: int = 0
    rejected: int = 0
    rejects_file: str | None = None
    files: list[FileResult] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, f: FileResult) -> None:
        self.files.append(f)
        self.read += f.read
        self.loaded += f.loaded
        self.duplicates += f.duplicates
        self.rejected += f.rejected

    def as_json(self) -> dict:
        """The stable JSON contract of ``siyu import --json``."""
        return {"table": self.table, "read": self.read, "loaded": self.loaded,
                "duplicates": self.duplicates, "rejected": self.rejected,
                "rejects_file": self.rejects_file}


def new_load_id() -> str:
    return "L" + datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f") + "-" + secrets.token_hex(3)


def _id_parts(t: Table, alias: str) -> tuple[str, bool]:
    """SQL for a row's identity text and whether it is one required id column as is."""
    p = f"{alias}." if alias else ""
    cols = t.id_columns or (*t.column_names, "attrs")
    if len(cols) == 1 and t.column(cols[0]).required:
        return f"{p}{q(cols[0])}", True
    parts = ", ".join(f"coalesce(CAST({p}{q(c)} AS VARCHAR), chr(0))" for c in cols)
    return f"concat_ws(chr(31), {parts})", False


def _id_expr(t: Table, alias: str = "") -> str:
    """SQL for a row's identity: its id column, or a hash of the id columns / whole row."""
    text, single = _id_parts(t, alias)
    return text if single else f"md5({text})"


def _id_bucket(t: Table, alias: str = "") -> str:
    """SQL for a 32-bit bucket of a row's identity: rows with the same id always share it
    (it hashes the text :func:`_id_expr` is built from, without the md5)."""
    return f"(hash({_id_parts(t, alias)[0]}) >> 32)::UINTEGER"


class _Rejects:
    """Collects the rejects of one file in a side file, appended to the run's file on success."""

    def __init__(self, tmp: Path, source: Path):
        self.tmp = tmp
        self.source = str(source)
        self.count = 0
        self._fh = None
        self._w = None

    def _writer(self):
        if self._w is None:
            self._fh = open(self.tmp, "w", newline="", encoding="utf-8")  # noqa: SIM115
            self._w = csv.writer(self._fh)
        return self._w

    def bad_records(self, bad: Iterable[BadRecord]) -> None:
        for b in bad:
            self._writer().writerow((self.source, b.line, "", "unparsable_row", b.reason, "",
                                     b.text))
            self.count += 1

    def rows(self, rows: list[tuple]) -> None:
        w = self._writer()
        for line, column, code, value, detail, raw in rows:
            zh, en = REJECT_CODES.get(code, (code, code))
            reason = tr(zh, en) + (f" ({detail})" if detail and code == "out_of_range" else "")
            w.writerow((self.source, line, column, code, reason,
                        "" if value is None else value[:200], raw))
        self.count += len(rows)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()

    def append_to(self, target: Path) -> None:
        self.close()
        if not self.count:
            return
        new = not target.exists()
        with open(target, "a", newline="", encoding="utf-8") as out:
            if new:
                out.write("\ufeff")  # so Excel opens the Chinese text as UTF-8
                csv.writer(out).writerow(REJECT_HEADER)
            with open(self.tmp, encoding="utf-8", newline="") as src:
                shutil.copyfileobj(src, out)

    def discard(self) -> None:
        self.close()
        self.tmp.unlink(missing_ok=True)


def _record_run(ws, values: dict, load_id: str | None = None) -> None:
    with ws.ops.engine.begin() as c:
        if load_id is None:
            c.execute(insert(import_runs).values(**values))
        else:
            c.execute(update(import_runs).where(import_runs.c.load_id == load_id).values(**values))


def _check_columns(reader: Reader, t: Table, fmt: str) -> None:
    if fmt == "jsonl":  # keys vary per line: a missing required key rejects that line
        return
    missing = [c for c in t.required if c not in reader.columns]
    if missing:
        raise reader._fail(tr("缺少必填列 {m}（{t} 表需要：{r}）",
                              "missing required column(s) {m} (table {t} needs {r})",
                              m=", ".join(missing), t=t.name, r=", ".join(t.required)))


def _import_one(ws, t: Table, path: Path, fmt: str, encoding: str, delimiter: str | None,
                progress: Progress | None, rejects_target: Path) -> FileResult:
    con = ws.warehouse.raw
    load_id = new_load_id()
    started = time.perf_counter()
    res = FileResult(str(path), load_id)
    _record_run(ws, dict(load_id=load_id, table_name=t.name, source=str(path),
                         status="running", started_at=datetime.now(UTC), read=0, loaded=0,
                         duplicates=0, rejected=0))
    stage = q(f"_stage_{load_id}")
    zone = scalar(con, "SELECT current_setting('TimeZone')")  # naive times are read in it
    rejects = _Rejects(ws.tmp_dir / f"{load_id}.rejects.csv", path)
    try:
        reader = open_reader(path, fmt, batch_rows=ws.settings.import_batch_rows,
                             encoding=encoding, delimiter=delimiter)
        try:
            _check_columns(reader, t, fmt)
            created = False
            for batch, bad in reader:
                rejects.bad_records(bad)
                res.read += len(bad)
                if batch is not None and batch.num_rows:
                    res.read += batch.num_rows
                    sliced = isinstance(batch, SqlSlice)
                    if not sliced:
                        con.register("_in", batch)
                    try:
                        sql = validation_sql(t, batch.schema, batch.sql if sliced else "_in",
                                             zone)
                        if not created:  # the stage holds good rows and reject details
                            con.execute(f"CREATE TEMP TABLE {stage} AS {sql} LIMIT 0")
                            created = True
                        con.execute(f"INSERT INTO {stage} {sql}")
                    except duckdb.Error as e:
                        if sliced:  # the engine met a corrupt part of the file
                            raise reader._fail(str(e).splitlines()[0][:200]) from None
                        raise
                    finally:
                        if not sliced:
                            con.unregister("_in")
                if progress:
                    progress(path, reader.done, reader.total, reader.unit)
        finally:
            reader.close()
        if created:
            rejects.rows(con.execute(
                f"SELECT _line, _column, _code, _value, _detail, _raw FROM {stage} "
                "WHERE _column IS NOT NULL ORDER BY _line").fetchall())
            res.loaded, res.duplicates = _store(ws, t, stage, load_id)
        res.rejected = rejects.count
    except BaseException as e:
        rejects.discard()
        con.execute(f"DROP TABLE IF EXISTS {stage}")
        _record_run(ws, dict(status="failed", finished_at=datetime.now(UTC),
                             error=str(e)[:1000]), load_id)
        if isinstance(e, SiyuError | KeyboardInterrupt):
            raise
        raise UnreadableFile(tr("{p}：导入失败（{e}），未导入任何数据",
                                "{p}: import failed ({e}); nothing was loaded from it",
                                p=path, e=str(e).splitlines()[0][:200])) from e
    con.execute(f"DROP TABLE IF EXISTS {stage}")
    rejects.append_to(rejects_target)
    rejects.discard()
    res.seconds = time.perf_counter() - started
    _record_run(ws, dict(status="done", finished_at=datetime.now(UTC), read=res.read,
                         loaded=res.loaded, duplicates=res.duplicates, rejected=res.rejected,
                         rejects_file=str(rejects_target) if res.rejected else None), load_id)
    return res


def _store(ws, t: Table, stage: str, load_id: str) -> tuple[int, int]:
    """Append the staged good rows that are new, in one transaction; returns (loaded,
    duplicates). A duplicate repeats the id of an earlier line of the file or of a stored row;
    duplicates are deleted from the stage, so the append and the key registry read the stage
    with no join."""
    con = ws.warehouse.raw
    target = q(t.name)
    cols = ", ".join(q(c) for c in t.column_names)
    good = scalar(con, f"SELECT count(*) FROM {stage} WHERE _column IS NULL")
    if not good:
        return 0, 0
    stored = scalar(con, f"SELECT count(*) FROM {target}")
    con.execute("BEGIN TRANSACTION")
    try:
        dropped = _drop_duplicates(con, t, stage, target, stored)
        keep = f"FROM {stage} s WHERE s._column IS NULL"
        con.execute(f"INSERT INTO {target} ({cols}, attrs, _load_id, _line) "
                    f"SELECT {cols}, attrs, {lit(load_id)}, _line {keep}")
        _register_keys(con, t, load_id, keep)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return good - dropped, dropped


def _drop_duplicates(con, t: Table, stage: str, target: str, stored: int) -> int:
    """Delete from the stage the good rows whose id repeats an earlier line or a stored row;
    returns how many.

    The in-file check first finds the (usually few) lines whose 32-bit id bucket repeats, by
    sorting the buckets — cheaper than a hash aggregate over every id — and only those lines
    are compared by their real id, so a shared bucket is never taken for a duplicate."""
    sid, tid, bucket = _id_expr(t, "s"), _id_expr(t, "t"), _id_bucket(t, "s")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _drop AS
        SELECT _line FROM (
            SELECT s._line, row_number() OVER (PARTITION BY {sid} ORDER BY s._line) AS rn
            FROM {stage} s
            WHERE s._column IS NULL AND {bucket} IN (
                SELECT b FROM (SELECT {bucket} AS b FROM {stage} s WHERE s._column IS NULL)
                QUALIFY b = lag(b) OVER (ORDER BY b))
        ) WHERE rn > 1
    """)
    if stored:
        con.execute(f"""
            INSERT INTO _drop
            SELECT s._line FROM {stage} s
            WHERE s._column IS NULL AND EXISTS (SELECT 1 FROM {target} t WHERE {tid} = {sid})
        """)
    dropped = scalar(con, "SELECT count(DISTINCT _line) FROM _drop")
    if dropped:
        con.execute(f"DELETE FROM {stage} WHERE _line IN (SELECT _line FROM _drop)")
    con.execute("DROP TABLE _drop")
    return dropped


def _register_keys(con, t: Table, load_id: str, rows_sql: str) -> None:
    """Record every consumer key of the stored rows (``SELECT … {rows_sql}``) in key_seen."""
    if not t.key_columns:
        return
    ts = q(t.time_column) if t.time_column else "NULL::TIMESTAMPTZ"
    parts = " UNION ALL ".join(f"SELECT {q(k)} AS k, {ts} AS ts {rows_sql}"
                               for k in t.key_columns)
    con.execute(f"""
        INSERT INTO key_seen
        SELECT k, split_part(k, ':', 1), min(ts), max(ts), count(*), {lit(t.name)},
               {lit(load_id)}
        FROM ({parts}) GROUP BY k
    """)


def _rejects_path(ws, table: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    return ws.rejects_dir / f"{table}-{stamp}-{secrets.token_hex(2)}.csv"


def import_files(ws, table: str, paths: Iterable[Path | str], *, fmt: str | None = None,
                 encoding: str = "utf-8", delimiter: str | None = None,
                 progress: Progress | None = None) -> ImportResult:
    """Import ``paths`` into canonical ``table``. Returns the totals; raises
    :class:`UnreadableFile` (exit code 2) at the first file that cannot be parsed at all."""
    try:
        t = get_table(table)
    except KeyError as e:
        raise UsageError(str(e.args[0])) from None
    paths = [Path(p) for p in paths]
    if not paths:
        raise UsageError(tr("没有给出文件", "no files given"))
    formats = [detect_format(p, fmt) for p in paths]  # fail fast before loading anything
    ws.rejects_dir.mkdir(parents=True, exist_ok=True)
    ws.tmp_dir.mkdir(parents=True, exist_ok=True)
    target = _rejects_path(ws, t.name)
    result = ImportResult(t.name)
    started = time.perf_counter()
    for p, f in zip(paths, formats, strict=True):
        result.add(_import_one(ws, t, p, f, encoding, delimiter, progress, target))
    result.seconds = time.perf_counter() - started
    result.rejects_file = str(target) if target.exists() else None
    return result


def tables_in_dir(directory: Path, fmt: str | None = None) -> list[tuple[Table, list[Path]]]:
    """The files of ``directory`` named after canonical tables (``orders.parquet``,
    ``orders.csv``, ``orders-2.csv``…), in import order. Unknown files are ignored."""
    if not directory.is_dir():
        raise UsageError(tr("{d} 不是目录", "{d} is not a folder", d=directory))
    found: dict[str, list[Path]] = {}
    for p in sorted(directory.iterdir()):
        if not p.is_file() or p.name.startswith("."):
            continue
        stem = p.name.split(".")[0]
        name = stem if stem in TABLES else stem.rsplit("-", 1)[0]
        if name in TABLES:
            try:
                detect_format(p, fmt)
            except UsageError:
                continue
            found.setdefault(name, []).append(p)
    if not found:
        raise UsageError(tr("{d} 中没有以表名命名的文件（如 orders.parquet）",
                            "no files named after a table (e.g. orders.parquet) in {d}",
                            d=directory))
    return [(t, found[t.name]) for t in import_order(list(found))]


def import_dir(ws, directory: Path | str, *, fmt: str | None = None, encoding: str = "utf-8",
               progress: Progress | None = None) -> list[ImportResult]:
    """Import every table file of ``directory`` in dependency order."""
    return [import_files(ws, t.name, files, fmt=fmt, encoding=encoding, progress=progress)
            for t, files in tables_in_dir(Path(directory), fmt)]
