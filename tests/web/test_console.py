"""The console in real headless Chromium (Debian's, driven by Playwright) against a real
server on loopback: the dashboard shows `siyu metrics fast --json`, the audience builder counts
what `siyu audience count` counts, the language switch, and a guide refused what it may not
see. Every request the pages make stays on the server (no CDN).

Set WEB_SCREENSHOTS=DIR to keep screenshots of the pages (docs/screenshots holds a few)."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

from tests.web.conftest import LAST_DAY, PASSWORD, PERIOD

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="Debian's chromium is missing: run `make chromium`")


@pytest.fixture(scope="module")
def live(server):
    """The app served by uvicorn on a free loopback port."""
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(server["app"], host="127.0.0.1", port=port,
                                        log_level="warning", access_log=False))
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    deadline = time.monotonic() + 20
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    t.join(10)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                               args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


@pytest.fixture
def page(browser, live):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    pg = ctx.new_page()
    pg.set_default_timeout(60_000)
    pg.requests = []  # type: ignore[attr-defined]
    pg.on("request", lambda r: pg.requests.append(r.url))  # type: ignore[attr-defined]
    pg.base = live  # type: ignore[attr-defined]
    yield pg
    ctx.close()


def _login(page, name: str, then: str = "/dashboard") -> None:
    page.goto(f"{page.base}/login?next={then}")
    page.fill("#name", name)
    page.fill("#password", PASSWORD)
    page.click("#login")
    page.wait_for_load_state("load")


def _shot(page, name: str) -> None:
    d = os.environ.get("WEB_SCREENSHOTS")
    if d:
        Path(d).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(d) / f"{name}.png"), full_page=True)


def _value(page, selector: str) -> str:
    return page.locator(selector).first.get_attribute("data-value")


def test_dashboard_shows_the_cli_numbers(page, cli, server):
    _login(page, "ana", f"/dashboard?period={PERIOD}")
    assert page.url.endswith(f"/dashboard?period={PERIOD}")
    want = cli.json("metrics", "fast", "--period", PERIOD, "--home", server["home"])
    assert int(_value(page, "[data-metric=capital]")) == want["capital"]
    assert float(_value(page, "[data-metric=conversion]")) == want["conversion"]
    assert float(_value(page, "[data-metric=clv]")) == want["clv"]["mean"]
    assert int(_value(page, "#m-deepened")) == want["deepened"]
    assert page.locator("#m-capital").inner_text() == f"{want['capital']:,}"
    tiers = [int(page.locator(f"#tiers tr[data-tier='{t}'] td.n").first.get_attribute(
        "data-value")) for t in range(1, 6)]
    assert tiers == list(want["tiers"].values())
    page.wait_for_selector("#chart-sankey canvas")  # ECharts drew the tier flow
    page.wait_for_selector("#chart-layers canvas")
    assert all(u.startswith(page.base) for u in page.requests), page.requests
    _shot(page, "dashboard")


def test_metric_pages_render_their_charts(page):
    _login(page, "ana", f"/gmv?period={PERIOD}")
    page.wait_for_selector("#chart-waterfall canvas")
    _shot(page, "gmv")
    for path, chart in ((f"/trends?last={LAST_DAY}", "#chart-rates"),
                        ("/cohorts?grain=month", "#chart-cohorts"),
                        (f"/rfm?as_of={LAST_DAY}", "#chart-rfm")):
        page.goto(page.base + path)
        page.wait_for_selector(f"{chart} canvas")
    page.goto(f"{page.base}/health?period={PERIOD}")
    assert page.locator("table[data-dimension=scale]").count() == 1
    page.goto(f"{page.base}/community?period={PERIOD}")
    assert page.locator("#community-overall tr[data-key=groups]").count() == 1


def test_audience_builder_counts_like_the_cli(page, cli, server):
    expr = "tier >= 2 and orders(last 90d) >= 1"
    _login(page, "otto", "/audiences")
    page.fill("#as-of", LAST_DAY)
    page.fill("#expr", expr)
    page.wait_for_function("document.getElementById('count').dataset.value !== ''")
    want = cli.json("audience", "count", expr, "--as-of", LAST_DAY, "--home", server["home"])
    assert int(_value(page, "#count")) == want["count"]
    assert page.locator("#canonical").inner_text() == expr
    page.fill("#expr", "tier >= 9 and")            # the count follows the terms as they change
    page.wait_for_selector("#expr-error:not([hidden])")
    assert "位置" in page.locator("#expr-error").inner_text()
    _shot(page, "audiences")


def test_language_switch_is_kept_in_a_cookie(page):
    _login(page, "ana", f"/dashboard?period={PERIOD}")
    assert "FAST+ 私域健康看板" in page.locator("h1").inner_text()
    page.click("#lang-en")
    page.wait_for_load_state("load")
    assert "FAST+ private-domain health" in page.locator("h1").inner_text()
    assert page.url.endswith(f"/dashboard?period={PERIOD}")
    page.goto(f"{page.base}/gmv?period={PERIOD}")
    assert "GMV decomposition" in page.locator("h1").inner_text()
    page.click("#lang-zh")
    page.wait_for_load_state("load")
    assert "GMV 拆解" in page.locator("h1").inner_text()


def test_a_guide_is_refused_another_guides_customer_and_the_dashboard(page, server):
    _login(page, "gus", "/consumers")
    page.goto(f"{page.base}/consumers?key={server['own']}")
    assert page.locator("#consumer-id").inner_text().startswith("c")
    assert "****" in page.locator("#keys").inner_text()  # phones masked
    _shot(page, "consumer")
    page.goto(f"{page.base}/consumers?key={server['other']}")
    err = page.locator("#error")
    assert (err.get_attribute("data-status"), err.get_attribute("data-code")) == (
        "403", "not_your_customer")
    page.goto(f"{page.base}/dashboard")
    assert page.locator("#error").get_attribute("data-status") == "403"


def test_pages_need_a_login(page):
    page.goto(f"{page.base}/dashboard")
    assert "/login?next=" in page.url
    page.fill("#name", "ana")
    page.fill("#password", "wrong-password")
    page.click("#login")
    assert page.locator("#login-error").is_visible()


def test_a_guide_completes_todays_task_with_one_click(page, server):
    from datetime import timedelta

    from tests.web.test_api import _task

    tid = _task(server, server["guide_id"], server["own"], 99)
    later = _task(server, server["guide_id"], server["own"], 98, due_in=timedelta(days=2))
    _login(page, "gus", "/tasks")
    row = page.locator(f"tr[data-task='{tid}']")
    assert page.locator(f"tr[data-task='{later}']").count() == 0  # not due today
    row.locator("input[name=result]").fill("已送上生日祝福")
    _shot(page, "tasks")
    row.locator("button.done").click()
    page.wait_for_selector("#done-note")
    assert page.locator(f"tr[data-task='{tid}']").count() == 0
    from siyu.activation.tasks import get_task

    t = get_task(server["ws"].ops, tid)
    assert (t["status"], t["result"]) == ("done", "已送上生日祝福")


def test_an_admin_disables_a_user_and_revokes_a_key_on_the_admin_page(page, server):
    import httpx
    from sqlalchemy import delete

    from siyu.ops.tables import console_users
    from siyu.web.auth import add_user, create_api_key

    ops = server["ws"].ops
    add_user(ops, "walt", "analyst", PASSWORD)  # throwaway: the other tests never see them
    key = create_api_key(ops, "ui-probe", "analyst")
    walt = httpx.Client(base_url=page.base)  # over loopback: Playwright owns this thread's loop
    assert walt.post("/api/v1/auth/login", json={"name": "walt", "password": PASSWORD}
                     ).status_code == 200
    try:
        _login(page, "otto", "/admin/users")
        assert page.locator("#error").get_attribute("data-status") == "403"
        page.goto(f"{page.base}/logout")
        _login(page, "ada", "/admin/users")
        assert "用户与密钥" in page.locator("h1").inner_text()
        row = page.locator("tr[data-user='walt']")
        assert row.locator(".status").inner_text() == "启用"
        row.locator("button.disable").click()
        page.wait_for_selector("#done-note")
        assert page.locator("tr[data-user='walt']").get_attribute("data-disabled") == "true"
        assert walt.get("/api/v1/auth/me").status_code == 401  # its session ended at once
        assert httpx.get(f"{page.base}/api/v1/auth/me",
                         headers={"X-API-Key": key}).status_code == 200
        page.locator("tr[data-key='ui-probe'] button.revoke").click()
        page.wait_for_selector("#done-note")
        assert page.locator("tr[data-key='ui-probe']").get_attribute("data-revoked") == "true"
        assert httpx.get(f"{page.base}/api/v1/auth/me",
                         headers={"X-API-Key": key}).status_code == 401
        page.click("#lang-en")
        page.wait_for_load_state("load")
        assert page.locator("h1").inner_text() == "users and API keys"
        assert page.locator("tr[data-user='walt'] .status").inner_text() == "disabled"
        _shot(page, "admin")
    finally:
        walt.close()
        with ops.engine.begin() as c:
            c.execute(delete(console_users).where(console_users.c.name == "walt"))
