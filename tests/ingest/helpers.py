"""Small helpers to write hand-built source files in every format."""

from __future__ import annotations

import csv
import json
from pathlib import Path


def write_csv(path: Path, header: list[str], rows: list[list], encoding: str = "utf-8") -> Path:
    with open(path, "w", newline="", encoding=encoding) as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def write_jsonl(path: Path, header: list[str], rows: list[list]) -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps({k: v for k, v in zip(header, r, strict=True) if v != ""},
                                ensure_ascii=False) + "\n")
    return path


def write_parquet(path: Path, header: list[str], rows: list[list]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    cols = {h: [None if r[i] == "" else str(r[i]) for r in rows] for i, h in enumerate(header)}
    pq.write_table(pa.table(cols), path)
    return path


def write_xlsx(path: Path, header: list[str], rows: list[list]) -> Path:
    from openpyxl import Workbook

    wb = Workbook()
    sh = wb.active
    sh.append(header)
    for r in rows:
        sh.append([None if v == "" else v for v in r])
    wb.save(path)
    return path


WRITERS = {"csv": write_csv, "jsonl": write_jsonl, "parquet": write_parquet, "xlsx": write_xlsx}


def rows_of(ws, sql: str) -> list[tuple]:
    con = ws.warehouse.raw
    con.execute("SET TimeZone = 'UTC'")
    try:
        return con.execute(sql).fetchall()
    finally:
        con.execute(f"SET TimeZone = '{ws.settings.timezone}'")
