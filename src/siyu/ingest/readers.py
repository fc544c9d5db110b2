"""Streaming readers: a source file → Arrow record batches with a ``_line`` column.

Every reader reads in bounded memory (``batch_rows`` rows at a time) and reports progress in
its own unit (bytes for text files, rows for Parquet/Excel). CSV, JSONL and Excel columns come
out as strings (validation parses them); Parquet keeps its types.

A reader raises :class:`~siyu.errors.UnreadableFile` when the file cannot be parsed at all
(wrong format, undecodable text, no header). A single malformed record (a CSV row with the wrong
number of fields, a JSONL line that is not a JSON object) is not fatal: it is handed back as a
:class:`BadRecord` and ends up in the rejects file.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path

import pyarrow as pa

from siyu.errors import UnreadableFile, UsageError
from siyu.i18n import tr

__all__ = ["FORMATS", "BadRecord", "Reader", "SqlSlice", "detect_format", "open_reader"]

FORMATS = ("csv", "jsonl", "parquet", "xlsx")
_EXTENSIONS = {
    ".csv": "csv", ".tsv": "csv", ".txt": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl",
    ".json": "jsonl", ".parquet": "parquet", ".pq": "parquet", ".xlsx": "xlsx", ".xlsm": "xlsx",
}


@dataclass(frozen=True)
class BadRecord:
    """A record that could not be split into columns."""

    line: int | None
    reason: str
    text: str


def detect_format(path: Path, fmt: str | None = None) -> str:
    if fmt:
        if fmt not in FORMATS:
            raise UsageError(tr("未知格式 {fmt}（可用：{ok}）", "unknown format {fmt} (one of {ok})",
                                fmt=fmt, ok=", ".join(FORMATS)))
        return fmt
    suffixes = [s.lower() for s in path.suffixes]
    for s in reversed(suffixes):
        if s in _EXTENSIONS:
            return _EXTENSIONS[s]
    raise UsageError(tr("{path}：无法从扩展名判断格式，请用 --format 指定",
                        "{path}: cannot tell the format from the extension; pass --format",
                        path=path))


class Reader:
    """Base reader. Iterate for ``(batch, bad_records)`` pairs; ``columns`` is the header."""

    unit = "bytes"

    def __init__(self, path: Path, batch_rows: int):
        self.path = path
        self.batch_rows = batch_rows
        self.columns: list[str] = []
        self.total = 0
        self.done = 0

    def __iter__(self) -> Iterator[tuple[pa.RecordBatch | None, list[BadRecord]]]:
        raise NotImplementedError

    def close(self) -> None:  # pragma: no cover - overridden where needed
        pass

    def _fail(self, why: str) -> UnreadableFile:
        return UnreadableFile(
            tr("{path}：无法解析（{why}），未导入任何数据", "{path}: cannot be parsed ({why}); "
               "nothing was loaded from it", path=self.path, why=why))


def _clean_header(names: list[str]) -> list[str]:
    return [n.replace("\ufeff", "").strip() for n in names]


def _check_header(reader: Reader, names: list[str]) -> list[str]:
    names = _clean_header(names)
    if not names or all(not n for n in names):
        raise reader._fail(tr("没有表头", "no header row"))
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise reader._fail(tr("表头列名重复：{d}", "repeated header names: {d}", d=", ".join(dup)))
    if any(not n for n in names):
        raise reader._fail(tr("表头有空列名", "an empty column name in the header"))
    return names


class _CountingFile(io.RawIOBase):
    """A binary file that counts the bytes read (progress for streaming text readers)."""

    def __init__(self, path: Path, owner: Reader):
        self._f = open(path, "rb")  # noqa: SIM115 - closed by close()
        self._owner = owner

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        n = self._f.readinto(b)
        self._owner.done += n or 0
        return n

    def close(self) -> None:
        self._f.close()
        super().close()


class CsvReader(Reader):
    def __init__(self, path: Path, batch_rows: int, encoding: str, delimiter: str | None):
        super().__init__(path, batch_rows)
        self.encoding = encoding
        self.total = path.stat().st_size
        self.delimiter = delimiter or ("\t" if path.suffix.lower() == ".tsv" else ",")
        try:
            with open(path, encoding=encoding, newline="") as fh:
                first = fh.readline()
        except UnicodeDecodeError:
            raise self._fail(tr("不是 {enc} 编码；国内导出的文件常用 --encoding gb18030",
                                "not {enc} text; Chinese exports often need --encoding gb18030",
                                enc=encoding)) from None
        except LookupError:
            raise UsageError(tr("未知编码 {enc}", "unknown encoding {enc}", enc=encoding)) from None
        if "\x00" in first:
            raise self._fail(tr("含有二进制内容", "binary content"))
        self.columns = _check_header(self, next(csv.reader([first], delimiter=self.delimiter),
                                                []))

    def __iter__(self):
        from pyarrow import csv as pacsv

        bad: list[BadRecord] = []

        def on_invalid(row) -> str:
            bad.append(BadRecord(row.number, tr("字段数为 {a}，表头为 {e}",
                                                 "{a} fields where the header has {e}",
                                                 a=row.actual_columns, e=row.expected_columns),
                                 row.text[:500]))
            return "skip"

        read = pacsv.ReadOptions(encoding=self.encoding, use_threads=False,
                                 block_size=8 << 20, column_names=self.columns, skip_rows=1)
        parse = pacsv.ParseOptions(delimiter=self.delimiter, newlines_in_values=True,
                                   invalid_row_handler=on_invalid)
        conv = pacsv.ConvertOptions(column_types={c: pa.string() for c in self.columns},
                                    strings_can_be_null=False, quoted_strings_can_be_null=False)
        src = _CountingFile(self.path, self)
        try:
            stream = pacsv.open_csv(src, read_options=read, parse_options=parse,
                                    convert_options=conv)
        except pa.ArrowInvalid as e:
            src.close()
            if "empty" in str(e).lower():  # header only: zero rows
                return
            raise self._fail(str(e).splitlines()[0][:200]) from None
        next_line = 2  # line 1 is the header
        try:
            while True:
                try:
                    batch = stream.read_next_batch()
                except StopIteration:
                    break
                except (pa.ArrowInvalid, UnicodeDecodeError) as e:
                    raise self._fail(str(e).splitlines()[0][:200]) from None
                skipped = sorted(b.line for b in bad if b.line is not None and b.line >= next_line)
                lines, next_line = _lines_skipping(next_line, batch.num_rows, skipped)
                out = bad
                bad = []
                for start in range(0, batch.num_rows, self.batch_rows):
                    part = batch.slice(start, self.batch_rows)
                    yield _with_lines(part, lines[start:start + part.num_rows]), out
                    out = []
                if batch.num_rows == 0 and out:
                    yield None, out
            if bad:
                yield None, bad
        finally:
            src.close()


def _lines_skipping(start: int, n: int, skipped: list[int]) -> tuple[pa.Array, int]:
    """Line numbers for ``n`` good records from ``start``, jumping over ``skipped`` lines."""
    import numpy as np

    lines = np.arange(start, start + n + len(skipped), dtype=np.int64)
    if skipped:
        lines = lines[~np.isin(lines, np.asarray(skipped, dtype=np.int64))][:n]
    else:
        lines = lines[:n]
    nxt = int(lines[-1]) + 1 if n else start + len(skipped)
    return pa.array(lines), nxt


def _with_lines(batch: pa.RecordBatch, lines) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays([*batch.columns, pa.array(lines, pa.int64())],
                                      names=[*batch.schema.names, "_line"])


def _to_text(v) -> str | None:
    """A JSON or Excel cell value as the text validation parses."""
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    if isinstance(v, datetime):
        return v.isoformat(sep=" ")
    if isinstance(v, date | time):
        return v.isoformat()
    if isinstance(v, dict | list):
        return json.dumps(v, ensure_ascii=False)
    return str(v)


def _batch_from_rows(columns: list[str], rows: list[list], lines: list[int]) -> pa.RecordBatch:
    arrays = [pa.array([r[i] for r in rows], pa.string()) for i in range(len(columns))]
    arrays.append(pa.array(lines, pa.int64()))
    return pa.RecordBatch.from_arrays(arrays, names=[*columns, "_line"])


class JsonlReader(Reader):
    """One JSON object per line. The header is the union of keys seen in the first batch and
    grows when later lines bring new keys (those become extra columns)."""

    def __init__(self, path: Path, batch_rows: int, encoding: str):
        super().__init__(path, batch_rows)
        self.encoding = encoding
        self.total = path.stat().st_size

    def __iter__(self):
        src = _CountingFile(self.path, self)
        text = io.TextIOWrapper(io.BufferedReader(src, 1 << 20), encoding=self.encoding,
                                newline="")
        parsed_any = False
        failures = 0
        cols: dict[str, int] = {}
        rows: list[dict] = []
        lines: list[int] = []
        bad: list[BadRecord] = []
        try:
            for lineno, raw in enumerate(text, start=1):
                s = raw.strip()
                if not s:
                    continue
                try:
                    obj = json.loads(s)
                except json.JSONDecodeError as e:
                    failures += 1
                    bad.append(BadRecord(lineno, tr("不是有效的 JSON：{e}", "not valid JSON: {e}",
                                                    e=e.msg), s[:500]))
                    continue
                if not isinstance(obj, dict):
                    failures += 1
                    bad.append(BadRecord(lineno, tr("不是 JSON 对象", "not a JSON object"),
                                         s[:500]))
                    continue
                parsed_any = True
                for k in obj:
                    if k not in cols:
                        cols[k] = len(cols)
                rows.append(obj)
                lines.append(lineno)
                if len(rows) >= self.batch_rows:
                    yield self._batch(cols, rows, lines), bad
                    rows, lines, bad = [], [], []
                if not parsed_any and failures >= 1000:
                    break
        except UnicodeDecodeError:
            raise self._fail(tr("不是 {enc} 编码", "not {enc} text", enc=self.encoding)) from None
        finally:
            text.close()
        if not parsed_any and failures:
            raise self._fail(tr("没有一行是 JSON 对象", "no line is a JSON object"))
        if rows or bad:
            yield (self._batch(cols, rows, lines) if rows else None), bad

    def _batch(self, cols: dict[str, int], rows: list[dict], lines: list[int]):
        names = _clean_header(list(cols))
        self.columns = names
        keys = list(cols)
        return _batch_from_rows(names, [[_to_text(r.get(k)) for k in keys] for r in rows], lines)


@dataclass(frozen=True)
class SqlSlice:
    """A slice of a file that the validating engine reads itself (no trip through Python):
    ``sql`` is a relation with the file's columns and ``_line``."""

    sql: str
    schema: pa.Schema
    num_rows: int


class ParquetReader(Reader):
    """Parquet is read by DuckDB itself, in slices of row numbers (row groups outside a slice
    are skipped), so reading and validating run in parallel and progress is still reported."""

    unit = "rows"
    min_slice_rows = 1_000_000
    """Slices are at least this long: DuckDB streams them, so bigger means fewer statements."""

    def __init__(self, path: Path, batch_rows: int):
        super().__init__(path, max(batch_rows, self.min_slice_rows))
        import pyarrow.parquet as pq

        try:
            pf = pq.ParquetFile(path)
        except (pa.ArrowInvalid, OSError) as e:
            raise self._fail(str(e).splitlines()[0][:200]) from None
        self.columns = _check_header(self, list(pf.schema_arrow.names))
        self.total = pf.metadata.num_rows
        self._schema = pf.schema_arrow.append(pa.field("_line", pa.int64()))
        # slices end on row-group boundaries, so no row group is decoded twice
        self._bounds = [0]
        end = 0
        for i in range(pf.metadata.num_row_groups):
            end += pf.metadata.row_group(i).num_rows
            if end - self._bounds[-1] >= self.batch_rows:
                self._bounds.append(end)
        if self._bounds[-1] != self.total:
            self._bounds.append(self.total)
        pf.close()

    def __iter__(self):
        path = "'" + str(self.path).replace("'", "''") + "'"
        cols = ", ".join('"' + c.replace('"', '""') + '"' for c in self.columns)
        for start, end in zip(self._bounds, self._bounds[1:], strict=False):
            sql = (f"(SELECT {cols}, file_row_number + 1 AS _line "
                   f"FROM read_parquet({path}, file_row_number = true) "
                   f"WHERE file_row_number >= {start} AND file_row_number < {end})")
            yield SqlSlice(sql, self._schema, end - start), []
            self.done = end


class XlsxReader(Reader):
    """First worksheet; first row is the header. Read-only streaming mode of openpyxl."""

    unit = "rows"

    def __init__(self, path: Path, batch_rows: int):
        super().__init__(path, batch_rows)
        from openpyxl import load_workbook

        try:
            self._wb = load_workbook(path, read_only=True, data_only=True)
        except Exception as e:  # zipfile.BadZipFile, KeyError, InvalidFileException…
            raise self._fail(f"{type(e).__name__}: {str(e)[:200]}") from None
        self._ws = self._wb.worksheets[0]
        self.total = max((self._ws.max_row or 1) - 1, 0)
        self._rows = self._ws.iter_rows(values_only=True)
        header = next(self._rows, None)
        if header is None:
            raise self._fail(tr("工作表为空", "the sheet is empty"))
        while header and header[-1] is None:
            header = header[:-1]
        self.columns = _check_header(self, [_to_text(h) or "" for h in header])

    def __iter__(self):
        n = len(self.columns)
        rows: list[list] = []
        lines: list[int] = []
        bad: list[BadRecord] = []
        for lineno, values in enumerate(self._rows, start=2):
            self.done += 1
            if values is None or all(v is None for v in values):
                continue
            extra = [v for v in values[n:] if v is not None]
            if extra:
                bad.append(BadRecord(lineno, tr("有值超出表头范围", "values beyond the header"),
                                     json.dumps([_to_text(v) for v in values],
                                                ensure_ascii=False)[:500]))
                continue
            vals = [_to_text(v) for v in values[:n]]
            rows.append(vals + [None] * (n - len(vals)))
            lines.append(lineno)
            if len(rows) >= self.batch_rows:
                yield _batch_from_rows(self.columns, rows, lines), bad
                rows, lines, bad = [], [], []
        if rows or bad:
            yield (_batch_from_rows(self.columns, rows, lines) if rows else None), bad

    def close(self) -> None:
        self._wb.close()


def open_reader(path: Path, fmt: str, *, batch_rows: int = 200_000, encoding: str = "utf-8",
                delimiter: str | None = None) -> Reader:
    """A reader for ``path`` in format ``fmt`` (see :func:`detect_format`)."""
    if not path.exists():
        raise UsageError(tr("找不到文件 {p}", "no such file: {p}", p=path))
    if path.is_dir():
        raise UsageError(tr("{p} 是目录（导入整个目录请用 --all）",
                            "{p} is a folder (use --all to import a folder)", p=path))
    if fmt == "csv":
        return CsvReader(path, batch_rows, encoding, delimiter)
    if fmt == "jsonl":
        return JsonlReader(path, batch_rows, encoding)
    if fmt == "parquet":
        return ParquetReader(path, batch_rows)
    if fmt == "xlsx":
        return XlsxReader(path, batch_rows)
    raise UsageError(f"unknown format {fmt}")
