"""Ingest: files (CSV, JSONL, Parquet, Excel) → validated canonical tables (DOMAIN.md §2)."""

from siyu.ingest.load import FileResult, ImportResult, import_dir, import_files, tables_in_dir

__all__ = ["FileResult", "ImportResult", "import_dir", "import_files", "tables_in_dir"]
