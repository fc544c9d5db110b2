"""How a brand is cut into independent chunks of consumers.

Each chunk owns a contiguous range of consumers and of stores (with their guides and groups), and
draws every random number from generators seeded by ``(seed, chunk index, stage)``. A chunk's
rows therefore depend only on the arguments and its index, never on the other chunks or on the
order they are built in.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np

from siyu.demo.timeline import Window

CHUNK_CONSUMERS = 200_000
"""Largest chunk; part of the output's definition (changing it changes the files)."""
CONSUMERS_PER_STORE = 2_000
MIN_STORES = 3


@dataclass(frozen=True)
class Chunk:
    """One independent slice of the brand."""

    seed: int
    index: int
    first: int
    """Global index of the chunk's first consumer."""
    size: int
    first_store: int
    """Global index of the chunk's first store."""
    stores: int
    window: Window

    def rng(self, stage: str) -> np.random.Generator:
        """The random generator of one generation stage of this chunk."""
        return np.random.default_rng([self.seed, self.index, zlib.crc32(stage.encode())])


def plan(consumers: int, seed: int, window: Window,
         chunk_consumers: int | None = None) -> list[Chunk]:
    """Balanced chunks of at most ``chunk_consumers`` (default ``CHUNK_CONSUMERS``) consumers,
    with their stores."""
    if consumers < 1:
        raise ValueError("consumers must be at least 1")
    chunk_consumers = chunk_consumers or CHUNK_CONSUMERS
    count = math.ceil(consumers / chunk_consumers)
    base, extra = divmod(consumers, count)
    chunks: list[Chunk] = []
    first = first_store = 0
    for i in range(count):
        size = base + (1 if i < extra else 0)
        stores = max(MIN_STORES, size // CONSUMERS_PER_STORE)
        chunks.append(Chunk(seed, i, first, size, first_store, stores, window))
        first += size
        first_store += stores
    return chunks
