"""The realistic demo brand: every canonical table (DOMAIN.md §2) of a generated brand.

``generate(out_dir, consumers=…, days=…, seed=…)`` writes ``out_dir/<table>.<fmt>`` for each of
the 14 tables of ``siyu.schema.TABLES`` (Parquet, CSV or JSON Lines), deterministically: the
same arguments give byte-identical files. ``small_brand(out_dir)`` is the 2,000-consumer brand
tests use. The behaviour aims at the reference figures of DOMAIN.md §14 (heavy-tailed sales,
member groups, purchase cycles, propagation through shares…); ``dirty.py`` documents the
~0.5 % of dirty rows in event tables.

Consumers are built in chunks (``chunks.py``) with vectorised NumPy and Arrow, so memory stays
bounded and ten million consumers take minutes.
"""

from __future__ import annotations

from siyu.demo.dirty import DIRTY_RATE
from siyu.demo.generator import DEFAULT_END, generate, small_brand
from siyu.demo.writers import FORMATS

__all__ = ["generate", "small_brand", "DEFAULT_END", "DIRTY_RATE", "FORMATS"]
