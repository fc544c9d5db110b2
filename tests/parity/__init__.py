"""Engine parity: the same models on DuckDB and on PySpark (local mode) give the same rows."""
