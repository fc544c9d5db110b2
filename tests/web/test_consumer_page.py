"""The consumer 360° page read from stored results and the consumer index equals the page
computed from the models and the tables; months whose stored results went stale come from
the model again."""

from __future__ import annotations

from siyu.consumers.index import build_index
from siyu.consumers.tiers import model_tiers, stored_tiers
from siyu.ingest import import_files
from siyu.models.periods import parse_period
from siyu.models.sources import Sources
from siyu.models.tiers import tiers
from siyu.results import compute_metrics
from siyu.web.consumers import TIER_HISTORY_MONTHS
from tests.ingest.helpers import write_csv
from tests.web.conftest import PERIOD, Client, copy_app


def _member_key(ws, cid: str) -> str:
    return ws.warehouse.raw.execute(
        "SELECT min(key) FROM identity_map WHERE consumer_id = ? AND key_type = 'member'",
        [cid]).fetchone()[0]


def test_page_from_stored_tiers_and_index_equals_the_model(brand, tmp_path):
    ws, app, key = copy_app(brand, tmp_path / "ws", role="admin")
    try:
        c = Client(app, headers={"X-API-Key": key})
        last = parse_period(PERIOD, zone=ws.settings.zone)
        periods = [last]
        for _ in range(TIER_HISTORY_MONTHS - 1):
            periods.insert(0, periods[0].previous())
        full = tiers(Sources.of(ws), periods).to_pyarrow().to_pylist()
        model = {(r["consumer_id"], r["period"]): r["tier"] for r in full}
        koc = sorted({r["consumer_id"] for r in full if r["tier"] == 5})[:3]
        two = sorted({r["consumer_id"] for r in full
                      if r["tier"] == 2 and r["period"] == PERIOD})
        others = sorted({r["consumer_id"] for r in full if r["tier"] in (1, 3, 4)})[:3]
        assert koc and two and others, "the test brand has every kind"
        keys = [_member_key(ws, cid) or cid for cid in koc + two[:1] + others]

        def pages() -> dict[str, dict]:
            out = {}
            for k in keys:
                r = c.get(f"/api/v1/consumers/{k}")
                assert r.status_code == 200, r.text
                out[k] = {n: v for n, v in r.json().items() if n != "as_of"}
            return out

        def want(cid: str) -> list[int]:
            return [model.get((cid, str(p)), 0) for p in periods]

        from_model = pages()  # nothing stored, no index: the model and the tables
        cid0 = from_model[keys[0]]["consumer_id"]
        assert stored_tiers(ws, cid0, periods) == ({}, periods)
        for page in from_model.values():
            assert [h["tier"] for h in page["tier_history"]] == want(page["consumer_id"])

        compute_metrics(ws, "month", str(periods[0]), str(periods[-1]))
        build_index(ws)
        stored, missing = stored_tiers(ws, cid0, periods)
        assert missing == [] and stored == {str(p): model[(cid0, str(p))] for p in periods
                                            if (cid0, str(p)) in model}
        assert pages() == from_model

        # a paid order in the last month: that month's stored results are stale now, so it
        # comes from the model again (the consumer buys: non-purchasing → purchasing member)
        buyer = two[0]
        bkey = _member_key(ws, buyer)
        path = write_csv(tmp_path / "orders.csv",
                         ["order_id", "consumer_key", "paid_at", "amount", "status"],
                         [["page-o1", bkey, "2025-12-31 20:00:00", "88", "paid"]])
        assert import_files(ws, "orders", [path]).loaded == 1
        assert stored_tiers(ws, buyer, periods)[1] == [last]
        after = tiers(Sources.of(ws), [last]).to_pyarrow().to_pylist()
        assert {r["tier"] for r in after if r["consumer_id"] == buyer} == {3}
        page = c.get(f"/api/v1/consumers/{bkey}").json()
        assert [h["tier"] for h in page["tier_history"]] == want(buyer)[:-1] + [3]
        assert page["orders"]["count"] == from_model[bkey]["orders"]["count"] + 1
        html = c.get(f"/consumers?key={bkey}")
        assert html.status_code == 200 and "已购会员" in html.text
    finally:
        ws.close()


def test_the_model_over_one_consumers_rows_equals_the_full_model(brand, tmp_path):
    """Every KOC (their tier needs the orders through their shares) and a sample of the
    others, without and with the consumer index."""
    import shutil

    from siyu.identity.lookup import keys_of
    from siyu.workspace import Workspace

    shutil.copytree(brand, tmp_path / "ws", ignore=shutil.ignore_patterns("web.secret"))
    ws = Workspace.open(tmp_path / "ws")
    try:
        last = parse_period(PERIOD, zone=ws.settings.zone)
        periods = [last.previous().previous(), last.previous(), last]
        full = tiers(Sources.of(ws), periods).to_pyarrow().to_pylist()
        want: dict[str, dict[str, int]] = {}
        for r in full:
            want.setdefault(r["consumer_id"], {})[r["period"]] = r["tier"]
        koc = sorted(c for c, t in want.items() if 5 in t.values())
        everyone = sorted({r[0] for r in ws.warehouse.raw.execute(
            "SELECT consumer_id FROM identity_map").fetchall()})
        sample = koc + everyone[::25]
        assert len(koc) >= 3 and len(sample) > 25
        for indexed in (False, True):
            if indexed:
                build_index(ws)
            for cid in sample:
                keys = [k["key"] for k in keys_of(ws, cid)]
                assert model_tiers(ws, cid, keys, periods) == want.get(cid, {}), (indexed, cid)
    finally:
        ws.close()
