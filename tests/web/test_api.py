"""The HTTP API in-process: authentication, roles, every metric family equal to the CLI's
JSON, the consumer 360° view with masking and audit, audiences, errors."""

from __future__ import annotations

import pytest

from siyu.ops.audit import entries
from tests.web.conftest import LAST_DAY, PERIOD


def test_unauthenticated_requests_get_a_bilingual_json_error(client):
    r = client().get(f"/api/v1/metrics/fast?period={PERIOD}")
    assert r.status_code == 401
    body = r.json()
    assert body["code"] == "unauthenticated"
    assert set(body["message"]) == {"zh", "en"} and "登录" in body["message"]["zh"]
    assert "sign in" in body["message"]["en"]


def test_wrong_password_and_bad_api_key_are_refused(client):
    r = client().post("/api/v1/auth/login", json={"name": "ada", "password": "nope-nope"})
    assert (r.status_code, r.json()["code"]) == (401, "bad_login")
    r = client(headers={"X-API-Key": "sk_not-a-key"}).get("/api/v1/auth/me")
    assert (r.status_code, r.json()["code"]) == (401, "bad_api_key")


def test_session_and_api_key_identify_the_caller(client, server):
    assert client("ana").get("/api/v1/auth/me").json()["role"] == "analyst"
    me = client(headers={"X-API-Key": server["api_key"]}).get("/api/v1/auth/me").json()
    assert (me["name"], me["role"], me["kind"]) == ("etl", "operator", "apikey")


def test_logout_ends_the_session(client):
    c = client("ana")
    assert c.post("/api/v1/auth/logout").status_code == 204
    assert c.get("/api/v1/auth/me").status_code == 401


FAMILIES = [
    ("fast", f"period={PERIOD}", ["metrics", "fast", "--period", PERIOD]),
    ("gmv", f"period={PERIOD}", ["metrics", "gmv", "--period", PERIOD]),
    ("health", f"period={PERIOD}", ["metrics", "health", "--period", PERIOD]),
    ("daily", "from=2025-12-01&to=2025-12-07",
     ["metrics", "daily", "--from", "2025-12-01", "--to", "2025-12-07"]),
    ("cohorts", "grain=month", ["metrics", "cohorts", "--grain", "month"]),
    ("rfm", f"as_of={LAST_DAY}", ["metrics", "rfm", "--as-of", LAST_DAY]),
    ("churn", f"as_of={LAST_DAY}", ["metrics", "churn", "--as-of", LAST_DAY]),
    ("community", f"period={PERIOD}", ["metrics", "community", "--period", PERIOD]),
    ("layers", f"as_of={LAST_DAY}", ["clv", "layers", "--as-of", LAST_DAY]),
]


@pytest.mark.parametrize(("family", "query", "argv"), FAMILIES, ids=[f[0] for f in FAMILIES])
def test_every_metric_family_equals_the_cli_json(client, cli, server, family, query, argv):
    r = client("ana").get(f"/api/v1/metrics/{family}?{query}")
    assert r.status_code == 200, r.text
    assert r.json() == cli.json(*argv, "--home", server["home"])


def test_fast_numbers_are_consistent(client):
    f = client("ana").get(f"/api/v1/metrics/fast?period={PERIOD}").json()
    assert f["period"] == PERIOD
    assert sum(f["tiers"].values()) == f["capital"] > 0
    assert sum(map(sum, f["transitions"])) >= f["capital"]


def test_bad_period_is_a_400_in_both_languages(client):
    r = client("ana").get("/api/v1/metrics/fast?period=2025-13")
    assert r.status_code == 400
    msg = r.json()["message"]
    assert "2025-13" in msg["zh"] and "2025-13" in msg["en"] and msg["zh"] != msg["en"]
    r = client("ana").get("/api/v1/metrics/fast?period=March")
    assert (r.status_code, r.json()["code"]) == (422, "invalid")
    assert "period" in r.json()["message"]["en"]


def test_a_guide_may_not_read_metrics(client):
    r = client("gus").get(f"/api/v1/metrics/fast?period={PERIOD}")
    assert (r.status_code, r.json()["code"]) == (403, "forbidden")


def test_consumer_view_is_masked_and_the_cli_agrees(client, cli, server):
    key = server["own"]
    v = client("ana").get(f"/api/v1/consumers/{key}").json()
    shown = cli.json("consumer", "show", key, "--home", server["home"])
    assert v["consumer_id"] == shown["consumer_id"]
    assert v["keys"] == shown["keys"] and v["orders"] == shown["orders"]
    assert v["masked"] is True
    phones = [k["key"] for k in v["keys"] if k["type"] == "phone"]
    assert phones and all("****" in p for p in phones)
    assert len(v["tier_history"]) == 6 and v["tier_history"][-1]["period"] == PERIOD
    assert {c["purpose"] for c in v["consent"]} <= {"marketing", "service", "profiling",
                                                     "analytics"}


def test_unmasked_view_needs_the_role_and_is_audited(client, server):
    key = server["own"]
    r = client("ana").get(f"/api/v1/consumers/{key}?unmask=true")
    assert (r.status_code, r.json()["code"]) == (403, "forbidden")
    before = len(entries(server["ws"].ops, "unmasked_view", limit=1000))
    v = client("ada").get(f"/api/v1/consumers/{key}?unmask=true").json()
    assert v["masked"] is False
    assert any(k["type"] == "phone" and "****" not in k["key"] for k in v["keys"])
    log = entries(server["ws"].ops, "unmasked_view", limit=1000)
    assert len(log) == before + 1
    assert (log[0]["actor"], log[0]["target"]) == ("user:ada", v["consumer_id"])
    assert "phone" not in str(log[0]["detail"])  # no personal data in the audit detail


def test_a_guide_sees_its_own_customers_only(client, server):
    g = client("gus")
    own = g.get(f"/api/v1/consumers/{server['own']}")
    assert own.status_code == 200
    assert any(r["field"] == "guide" and r["field_ref"] == server["guide_id"]
               and r["status"] == "active" for r in own.json()["relationships"])
    other = g.get(f"/api/v1/consumers/{server['other']}")
    assert (other.status_code, other.json()["code"]) == (403, "not_your_customer")


def test_unknown_consumer_is_404(client):
    r = client("ana").get("/api/v1/consumers/member:NOPE0000")
    assert (r.status_code, r.json()["code"]) == (404, "not_found")
    assert "NOPE0000" in r.json()["message"]["en"]


def test_audience_count_equals_the_cli(client, cli, server):
    expr = "tier >= 2 and orders(last 90d) >= 1"
    r = client("ana").post("/api/v1/audiences/count", json={"expression": expr,
                                                            "as_of": LAST_DAY})
    assert r.status_code == 200, r.text
    got = cli.json("audience", "count", expr, "--as-of", LAST_DAY, "--home", server["home"])
    assert r.json()["count"] == got["count"] > 0
    assert r.json()["expression"] == expr


def test_audience_syntax_error_says_where_in_both_languages(client):
    r = client("ana").post("/api/v1/audiences/count", json={"expression": "tier >="})
    assert r.status_code == 400
    m = r.json()["message"]
    assert "位置 7" in m["zh"] and "position 7" in m["en"]


def test_export_is_for_operators_and_audited(client, server):
    body = {"expression": "tier >= 4", "as_of": LAST_DAY}
    assert client("ana").post("/api/v1/audiences/export", json=body).status_code == 403
    count = client("otto").post("/api/v1/audiences/count", json=body).json()["count"]
    r = client("otto").post("/api/v1/audiences/export", json=body)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    lines = r.text.strip().splitlines()
    assert lines[0] == "consumer_id" and len(lines) - 1 == count
    e = entries(server["ws"].ops, "export", limit=1)[0]
    assert (e["actor"], e["target"], e["detail"]["count"]) == ("user:otto",
                                                                "audience: tier >= 4", count)


def test_openapi_describes_every_route_and_the_error_body(client):
    spec = client().get("/openapi.json").json()
    paths = spec["paths"]
    for p in ("/api/v1/metrics/fast", "/api/v1/consumers/{key}", "/api/v1/audiences/count",
              "/api/v1/events/{table}", "/api/v1/auth/login", "/api/v1/identity/resolve"):
        assert p in paths
    assert set(spec["components"]["schemas"]["Error"]["properties"]) == {"code", "message"}
    assert {"APIKeyHeader", "APIKeyCookie"} <= set(spec["components"]["securitySchemes"])


def test_english_messages_on_request(client):
    r = client().get("/api/v1/auth/me", headers={"Accept-Language": "en"})
    assert r.status_code == 401 and r.json()["message"]["en"].startswith("sign in")


def _task(server, guide_id: str, key: str, n: int, due_in=None) -> str:
    """A care task for KEY's consumer, due now (so it is on today's workbench whatever the
    hour in the brand's zone) unless DUE_IN (a timedelta) says otherwise."""
    from datetime import UTC, datetime, timedelta

    from siyu.activation.tasks import create_task

    ws = server["ws"]
    cid = ws.warehouse.raw.execute("SELECT consumer_id FROM identity_map WHERE key = ?",
                                   [key]).fetchone()[0]
    with ws.ops.engine.begin() as conn:
        return create_task(conn, consumer_id=cid, kind="care", title=f"生日关怀 {n}",
                           script="生日快乐！", due_at=datetime.now(UTC) + (due_in or timedelta(0)),
                           source="test", idempotency_key=f"web-test-{n}", guide_id=guide_id)


def test_a_guide_lists_and_completes_only_its_own_tasks(client, server):
    mine = _task(server, server["guide_id"], server["own"], 1)
    theirs = _task(server, "G-OTHER", server["other"], 2)
    g = client("gus")
    ids = [t["task_id"] for t in g.get("/api/v1/tasks").json()]
    assert mine in ids and theirs not in ids
    r = g.get("/api/v1/tasks?guide=G-OTHER")
    assert (r.status_code, r.json()["code"]) == (403, "forbidden")
    assert theirs in [t["task_id"] for t in client("otto").get(
        "/api/v1/tasks?guide=G-OTHER").json()]
    r = g.post(f"/api/v1/tasks/{theirs}/done", json={"result": "打过电话"})
    assert r.status_code == 403
    done = g.post(f"/api/v1/tasks/{mine}/done", json={"result": "打过电话"}).json()
    assert (done["status"], done["result"]) == ("done", "打过电话")
    r = g.post(f"/api/v1/tasks/{mine}/done", json={"result": "again"})
    assert r.status_code == 400 and "done" in r.json()["message"]["en"]
    assert client("ana").get("/api/v1/tasks").status_code == 403


def test_one_consumers_tier_history_equals_the_full_tier_model(server):
    """The 360° view computes tiers over the consumer and its referees only; the answer is
    the full model's, KOCs (whose tier needs the referees' orders) included."""
    from siyu.models.periods import parse_period
    from siyu.models.sources import Sources
    from siyu.models.tiers import tiers
    from siyu.web.consumers import _tier_history

    ws = server["ws"]
    p = parse_period(PERIOD, zone=ws.settings.zone)
    periods = [p.previous(), p]
    full = tiers(Sources.of(ws), periods).to_pyarrow().to_pylist()
    koc = sorted({r["consumer_id"] for r in full if r["tier"] == 5})
    assert koc, "the test brand has KOCs"
    others = sorted({r["consumer_id"] for r in full if r["tier"] < 5})[:4]
    for cid in koc[:3] + others:
        want = {r["period"]: r["tier"] for r in full if r["consumer_id"] == cid}
        got = {h["period"]: h["tier"] for h in _tier_history(ws, cid, 6)[-2:]}
        assert got == {str(q): want.get(str(q), 0) for q in periods}, cid


def test_nothing_is_fetched_from_another_host():
    """Templates, scripts and styles name no other host (brands run the console on
    intranets); the API has no Swagger UI page (its scripts come from a CDN)."""
    from pathlib import Path

    import siyu.web

    root = Path(siyu.web.__file__).parent
    files = [*root.glob("templates/*.html"), *root.glob("static/*.js"),
             *root.glob("static/*.css")]
    assert len(files) > 10
    for f in files:
        text = f.read_text(encoding="utf-8")
        for bad in ("http://", "https://", "//cdn", "fonts.googleapis"):
            assert bad not in text, f"{f.name} names {bad}"
    assert (root / "static/vendor/echarts/LICENSE").exists()


def test_no_swagger_ui(client):
    assert client().get("/api/docs").status_code == 404
