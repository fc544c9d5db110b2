"""The file layout of generated tables, derived from ``siyu.schema``.

Every canonical column is written, in schema order. Timestamps and dates are strings (naive
brand-local ``YYYY-MM-DD HH:MM:SS`` / ``YYYY-MM-DD``) so dirty rows can carry bad ones; money
and other numbers are float64 (money rounded to cents), ints int64, ``granted`` bool, every
other column a string. Columns the generator leaves empty are null.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from siyu.schema import TABLES, Table

FILE_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(), "key": pa.string(), "enum": pa.string(), "timestamp": pa.string(),
    "date": pa.string(), "money": pa.float64(), "number": pa.float64(), "int": pa.int64(),
    "bool": pa.bool_(),
}


def file_schema(table: Table) -> pa.Schema:
    """The Arrow schema a generated file of ``table`` has."""
    return pa.schema([pa.field(c.name, FILE_TYPES[c.type]) for c in table.columns])


def build(name: str, columns: dict[str, object], rows: int) -> pa.Table:
    """An Arrow table of canonical table ``name`` from ``columns`` (Arrow arrays or NumPy
    arrays); missing columns are null. Money given as integer cents is converted to yuan."""
    table = TABLES[name]
    unknown = set(columns) - set(table.column_names)
    if unknown:
        raise KeyError(f"{name} has no columns {sorted(unknown)}")
    schema = file_schema(table)
    arrays = []
    for col, field in zip(table.columns, schema, strict=True):
        value = columns.get(col.name)
        if value is None:
            arrays.append(pa.nulls(rows, field.type))
            continue
        if isinstance(value, np.ndarray):
            if col.type == "money" and value.dtype.kind == "i":
                value = value / 100.0
            value = pa.array(value, type=field.type)
        elif value.type != field.type:
            value = value.cast(field.type)
        if len(value) != rows:
            raise ValueError(f"{name}.{col.name}: {len(value)} values for {rows} rows")
        arrays.append(value)
    return pa.Table.from_arrays(arrays, schema=schema)


def empty(name: str) -> pa.Table:
    return file_schema(TABLES[name]).empty_table()
