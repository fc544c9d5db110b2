"""A tiny brand built by hand: rows per table, imported through the real pipeline and OneID."""

from __future__ import annotations

import csv
from pathlib import Path

from siyu.identity import resolve
from siyu.ingest import import_files
from siyu.schema import TABLES


class Brand:
    """Collect rows with :meth:`add`, then :meth:`load` them into ``ws`` (import + resolve).

    Times are naive brand-local text, as in real exports (``"2025-03-05 10:00"``)."""

    def __init__(self) -> None:
        self.rows: dict[str, list[dict]] = {}
        self._n = 0

    def add(self, table: str, **row) -> Brand:
        t = TABLES[table]
        for id_col in t.id_columns[:1]:
            if id_col not in row and t.column(id_col).required and id_col.endswith("_id"):
                self._n += 1
                row[id_col] = f"{table[:2]}{self._n}"
        self.rows.setdefault(table, []).append(row)
        return self

    # shorthands --------------------------------------------------------------------------
    def rel(self, key: str, field: str, action: str, at: str, ref: str = "") -> Brand:
        return self.add("relationships", consumer_key=key, field=field, action=action,
                        occurred_at=at, field_ref=ref)

    def order(self, key: str, at: str, amount: float, status: str = "paid",
              **kw) -> Brand:
        return self.add("orders", consumer_key=key, paid_at=at, amount=amount, status=status,
                        **kw)

    def link(self, a: str, b: str, at: str = "2025-01-01 00:00") -> Brand:
        return self.add("identity_links", key_a=a, key_b=b, source="test", observed_at=at)

    def load(self, ws, tmp: Path) -> None:
        for table, rows in self.rows.items():
            cols = sorted({k for r in rows for k in r})
            f = tmp / f"{table}.csv"
            with open(f, "w", newline="", encoding="utf-8") as fh:
                w = csv.DictWriter(fh, cols)
                w.writeheader()
                w.writerows(rows)
            r = import_files(ws, table, [f])
            assert r.rejected == 0, (table, r.rejects_file and Path(r.rejects_file).read_text())
        resolve(ws)
