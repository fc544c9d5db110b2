"""``generate``: write a realistic brand, chunk by chunk, one file per canonical table."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

from siyu.demo.chunks import plan
from siyu.demo.output import file_schema
from siyu.demo.pipeline import build_chunk
from siyu.demo.timeline import Window
from siyu.demo.writers import FORMATS, open_writer
from siyu.schema import TABLES

DEFAULT_END = date(2025, 12, 31)
"""Fixed default last day, so the output never depends on today."""

Progress = Callable[[int, int], None]


def generate(out_dir: str | Path, *, consumers: int, days: int, seed: int,
             fmt: str = "parquet", end: date = DEFAULT_END,
             progress: Progress | None = None) -> dict[str, int]:
    """Write every canonical table of a generated brand to ``out_dir/<table>.<fmt>``.

    ``consumers`` people over the ``days`` days ending with ``end`` (inclusive); the same
    arguments always give byte-identical files. ``progress(done, total)`` is called after each
    chunk of consumers. Returns the rows written per table (dirty rows included).
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if consumers < 1 or days < 1:
        raise ValueError("consumers and days must be at least 1")
    if seed < 0:
        raise ValueError("seed must be a non-negative integer")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    chunks = plan(consumers, seed, Window(end, days))
    rows = dict.fromkeys(TABLES, 0)
    writers = {name: open_writer(fmt, out / f"{name}.{fmt}", file_schema(t))
               for name, t in TABLES.items()}
    try:
        for chunk in chunks:
            tables = build_chunk(chunk)
            for name, table in tables.items():
                writers[name].write(table)
                rows[name] += table.num_rows
            del tables
            if progress is not None:
                progress(chunk.first + chunk.size, consumers)
    finally:
        for w in writers.values():
            w.close()
    return rows


def small_brand(out_dir: str | Path, seed: int = 1, fmt: str = "parquet") -> dict[str, int]:
    """A small brand for tests and demos: 2,000 consumers over the 90 days to 2025-12-31."""
    return generate(out_dir, consumers=2_000, days=90, seed=seed, fmt=fmt)
