"""Append-only writers of one file per table: Parquet, CSV and JSON Lines.

Each writer takes Arrow tables chunk after chunk, so memory stays bounded by one chunk.
Parquet gets one row group per chunk (zstd); CSV is UTF-8 with a header row and standard
quoting; JSON Lines holds one object per row, built with Arrow compute (no per-row Python).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

FORMATS = ("parquet", "csv", "jsonl")
JSONL_BATCH = 262_144
ROW_GROUP_ROWS = 131_072
"""Parquet row-group size: a common size (engines scan row groups in parallel)."""


class TableWriter(Protocol):
    def write(self, table: pa.Table) -> None: ...

    def close(self) -> None: ...


class ParquetTableWriter:
    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self._w = pq.ParquetWriter(path, schema, compression="zstd")

    def write(self, table: pa.Table) -> None:
        if table.num_rows:
            # row groups of typical size, so engines read a file in parallel
            self._w.write_table(table, row_group_size=ROW_GROUP_ROWS)

    def close(self) -> None:
        self._w.close()


class CsvTableWriter:
    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self._w = pacsv.CSVWriter(path, schema)

    def write(self, table: pa.Table) -> None:
        if table.num_rows:
            self._w.write_table(table)

    def close(self) -> None:
        self._w.close()


def _json_value(arr: pa.Array) -> pa.Array:
    """Each value as JSON text (``null`` for nulls)."""
    if pa.types.is_string(arr.type):
        s = pc.replace_substring(arr, "\\", "\\\\")
        s = pc.replace_substring(s, '"', '\\"')
        s = pc.binary_join_element_wise('"', s, '"', "")
    else:
        s = pc.cast(arr, pa.string())
    return pc.fill_null(s, "null")


def jsonl_bytes(table: pa.Table) -> pa.Buffer:
    """``table`` as JSON Lines (UTF-8, one object per row, newline-terminated)."""
    if table.num_rows == 0:
        return pa.py_buffer(b"")
    parts: list[pa.Array | str] = []
    for i, name in enumerate(table.column_names):
        parts.append(("{" if i == 0 else ",") + f'"{name}":')
        parts.append(_json_value(table.column(i).combine_chunks()))
    parts.append("}\n")
    lines = pc.binary_join_element_wise(*parts, "")
    if isinstance(lines, pa.ChunkedArray):
        lines = lines.combine_chunks()
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[lines.offset:]
    start, stop = int(offsets[0]), int(offsets[len(lines)])
    return lines.buffers()[2].slice(start, stop - start)


class JsonlTableWriter:
    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self._f = open(path, "wb")  # noqa: SIM115 - closed in close()

    def write(self, table: pa.Table) -> None:
        for start in range(0, table.num_rows, JSONL_BATCH):
            self._f.write(jsonl_bytes(table.slice(start, JSONL_BATCH)))

    def close(self) -> None:
        self._f.close()


WRITERS: dict[str, type] = {
    "parquet": ParquetTableWriter, "csv": CsvTableWriter, "jsonl": JsonlTableWriter,
}


def open_writer(fmt: str, path: Path, schema: pa.Schema) -> TableWriter:
    return WRITERS[fmt](path, schema)
