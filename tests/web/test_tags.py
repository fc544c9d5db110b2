"""Tags with their reasons on the consumer 360° view."""

from __future__ import annotations

from tests.web.conftest import Client, copy_app


def test_consumer_view_lists_tags_and_why_equals_the_cli(brand, tmp_path, cli):
    from siyu.tags.compute import compute

    ws, app, key = copy_app(brand, tmp_path / "ws", role="analyst")
    try:
        compute(ws)
        cid, tag = ws.warehouse.raw.execute(
            "SELECT consumer_id, min(tag) FROM tag_values GROUP BY 1 ORDER BY 1 LIMIT 1"
        ).fetchone()
        want = ws.warehouse.raw.execute(
            "SELECT count(*) FROM tag_values WHERE consumer_id = ?", [cid]).fetchone()[0]
        c = Client(app, headers={"X-API-Key": key})
        v = c.get(f"/api/v1/consumers/{cid}").json()
        assert len(v["tags"]) == want and tag in {t["tag"] for t in v["tags"]}
        why = c.get(f"/api/v1/consumers/{cid}/tags/{tag}/why")
        assert why.status_code == 200, why.text
        got = why.json()
    finally:
        ws.close()
    assert got == cli.json("tag", "why", cid, tag, "--home", tmp_path / "ws")
