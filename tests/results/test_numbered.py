"""``Sources.cached()`` numbers consumers (32-bit, in OneID id order) for speed: every
materialised family must come out exactly as on the plain sources with string ids."""

from __future__ import annotations

from decimal import Decimal

import ibis
import pyarrow as pa
import pytest

from siyu.models.fast import tier_pairs
from siyu.models.periods import parse_period, periods_between
from siyu.models.sources import Sources
from siyu.results.families import RESULTS, Batch
from siyu.workspace import Workspace
from tests.models.test_tiers import march_brand


def _rows(t: pa.Table | ibis.Table) -> list[tuple]:
    """Rows, sorted, floats rounded (parallel float sums differ in the last digits)."""
    if isinstance(t, ibis.Table):  # a family stored from the engine
        t = t.to_pyarrow()
    out = []
    for row in t.to_pylist():
        out.append(tuple(round(v, 9) if isinstance(v, float) else
                         float(v) if isinstance(v, Decimal) else v for v in row.values()))
    return sorted(out, key=repr)


def _families(src: Sources, periods) -> dict[str, list[tuple]]:
    pairs = tier_pairs(src, periods)
    per = Batch(src, periods, pairs, keep=False)
    out = {r.name: _rows(r.build(per)) for r in RESULTS if not r.whole}
    whole = Batch(src, periods, keep=False)
    out.update({r.name: _rows(r.build(whole)) for r in RESULTS if r.whole})
    return out


def _same_on_both(ws, first: str, last: str) -> dict[str, list[tuple]]:
    zone = ws.settings.zone
    periods = periods_between(parse_period(first, zone=zone), parse_period(last, zone=zone),
                              zone=zone)
    plain = Sources.of(ws)
    want = _families(plain, periods)
    with plain.cached() as numbered:
        assert numbered.numbered is not None and plain.numbered is None
        ids = numbered.interactions.consumer_id.type()
        assert ids.is_integer()
        assert numbered.keyed_periods and not plain.keyed_periods
        assert tier_pairs(numbered, periods).period.type().is_integer()
        got = _families(numbered, periods)
        # inputs it does not keep (every order, the relationship events) still join OneID
        # after the numbered map is released, with the numbers
        for name in ("orders", "relationships"):
            n = getattr(numbered, name)
            assert n.consumer_id.type().is_integer(), name
            assert n.count().execute() == getattr(plain, name).count().execute(), name
    for name in want:
        assert got[name] == want[name], name
    return want


def test_every_family_equals_on_the_hand_built_brand(ws, tmp_path):
    march_brand().load(ws, tmp_path)
    want = _same_on_both(ws, "2025-02", "2025-04")
    tiers = [r for r in want["consumer_tiers"] if r[0] == "2025-03"]
    assert len(tiers) == 14 and all(isinstance(r[1], str) for r in tiers)


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """A small generated brand (every table, chats, groups, shares), imported and resolved."""
    from siyu.demo import generate
    from siyu.identity import resolve
    from siyu.ingest import import_dir

    root = tmp_path_factory.mktemp("numbered")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SIYU_ID_SALT", "test-salt")
        generate(root / "source", consumers=500, days=120, seed=11)
        ws = Workspace.init(root / "ws", brand_name="numbered")
        import_dir(ws, root / "source")
        resolve(ws)
    yield ws
    ws.close()


def test_every_family_equals_on_a_generated_brand(generated):
    want = _same_on_both(generated, "2025-09", "2025-12")
    # the brand is not empty where it matters: ranks, tiers and groups were compared
    assert sum(r[2] for r in want["rfm"]) > 50
    assert len(want["consumer_tiers"]) > 100
    assert any(r[1] == "groups" for r in want["community"])
