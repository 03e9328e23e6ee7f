"""Swagger UI and Redoc in a real browser (Debian's chromium): they render the schema and
ask nothing of any host but ours (no CDN, no web fonts, no validator badge)."""

from urllib.parse import urlsplit

import pytest

from subscriptions.tests.test_admin_browser import CHROMIUM, CHROMIUM_ARGS

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is missing"),
]


@pytest.fixture
def browser_page():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(30_000)
            yield page
        finally:
            browser.close()


@pytest.mark.parametrize(
    ("path", "rendered"),
    [("/api/docs/", ".swagger-ui .info .title"), ("/api/redoc/", "h1")],
)
def test_docs_render_from_our_host_only(live_server, db, browser_page, path, rendered):
    ours = urlsplit(live_server.url).netloc
    asked: list[str] = []
    failed: dict[str, str] = {}
    browser_page.on("request", lambda request: asked.append(request.url))
    browser_page.on("requestfailed", lambda request: failed.update({request.url: request.failure}))
    browser_page.goto(f"{live_server.url}{path}")
    browser_page.wait_for_selector(rendered)
    assert "tradeplatform API" in browser_page.inner_text(rendered)
    browser_page.wait_for_load_state("networkidle")
    outside = [
        url
        for url in asked
        if urlsplit(url).scheme in ("http", "https") and urlsplit(url).netloc != ours
    ]
    # What a bundle asks elsewhere (Redoc's footer logo from cdn.redoc.ly) the page's
    # Content-Security-Policy keeps from going out: the browser blocks it, fetches nothing.
    assert asked
    assert {url: failed.get(url) for url in outside} == dict.fromkeys(outside, "csp")
