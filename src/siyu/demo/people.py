"""The consumers of a chunk: who they are and the latent traits that drive their behaviour.

``value`` (mean 1, log-normal) scales how often and how much a consumer buys, which gives the
heavy tail of sales; ``engage`` (mean 1) scales interactions and sharing. About 15 % of
consumers never enter the private domain and are known only from public-domain orders.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from siyu.demo import arrowtext as at
from siyu.demo import output, vocab
from siyu.demo.chunks import Chunk
from siyu.demo.timeline import DAY, format_dates, format_times

PRIVATE_SHARE = 0.85
HISTORY_DAYS = 730
"""Consumers registered up to this many days before the window (the existing base)."""
VALUE_SIGMA = 1.0

_SURNAME_P = 1.0 / (np.arange(len(vocab.SURNAMES)) + 3.0)
_SURNAME_P /= _SURNAME_P.sum()
GENDERS = ("male", "female", "unknown")


def chinese_names(rng: np.random.Generator, n: int, female: np.ndarray | None = None) -> pa.Array:
    """``n`` Chinese names: a surname and a one- or two-character given name."""
    if female is None:
        female = rng.random(n) < 0.6
    sur = at.pick(vocab.SURNAMES, rng.choice(len(vocab.SURNAMES), size=n, p=_SURNAME_P))
    given = vocab.GIVEN_FEMALE + vocab.GIVEN_MALE
    nf, nm = len(vocab.GIVEN_FEMALE), len(vocab.GIVEN_MALE)

    def one_char() -> np.ndarray:
        return np.where(female, rng.integers(0, nf, n), nf + rng.integers(0, nm, n))

    first = at.pick(given, one_char())
    second = at.pick(given, one_char(), rng.random(n) < 0.65)
    second = pc.fill_null(second, "")
    return at.concat(sur, first, second)


@dataclass
class Population:
    """Per-consumer arrays of one chunk (index = local consumer number)."""

    n: int
    reg: np.ndarray
    """Registration instant (the first relationship for private consumers)."""
    private: np.ndarray
    value: np.ndarray
    engage: np.ndarray
    store: np.ndarray
    """Home store (local index)."""
    city: np.ndarray
    category: np.ndarray
    """Preferred product category."""
    gender: np.ndarray
    birthday: np.ndarray
    has_birthday: np.ndarray


def build_population(chunk: Chunk, store_weight: np.ndarray, store_city: np.ndarray) -> Population:
    rng = chunk.rng("people")
    n, w = chunk.size, chunk.window
    span = (w.days + HISTORY_DAYS) * DAY
    reg = w.end - 1 - (span * rng.random(n) ** 1.3).astype(np.int64)
    private = rng.random(n) < PRIVATE_SHARE
    z = rng.standard_normal(n)
    value = np.exp(VALUE_SIGMA * z - VALUE_SIGMA**2 / 2)
    ez = 0.4 * z + np.sqrt(1 - 0.16) * rng.standard_normal(n)
    engage = np.exp(0.8 * ez - 0.32)
    store = rng.choice(len(store_weight), size=n, p=store_weight)
    city = np.where(rng.random(n) < 0.8, store_city[store],
                    rng.choice(len(vocab.CITIES), size=n, p=vocab.CITY_WEIGHTS))
    category = rng.choice(len(vocab.CATEGORIES), size=n, p=vocab.CATEGORY_SHARE)
    gender = rng.choice(3, size=n, p=[0.27, 0.68, 0.05])
    age_days = ((18 + rng.gamma(4.0, 4.0, n)).clip(18, 75) * 365.25).astype(np.int64)
    birthday = w.end - age_days * DAY
    has_birthday = rng.random(n) < 0.85
    return Population(n, reg, private, value, engage, store, city, category, gender, birthday,
                      has_birthday)


def consumer_table(pop: Population, primary_keys: pa.Array, chunk: Chunk) -> pa.Table:
    rng = chunk.rng("names")
    female = (pop.gender == 1) | ((pop.gender == 2) & (rng.random(pop.n) < 0.5))
    return output.build("consumers", {
        "consumer_key": primary_keys,
        "name": chinese_names(rng, pop.n, female),
        "gender": at.pick(GENDERS, pop.gender),
        "birthday": format_dates(pop.birthday, pop.has_birthday),
        "city": at.pick(vocab.CITY_NAMES, pop.city),
        "province": at.pick(vocab.CITY_PROVINCES, pop.city),
        "registered_at": format_times(pop.reg),
    }, pop.n)
