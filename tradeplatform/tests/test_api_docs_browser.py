"""Swagger UI and Redoc in a real browser (Debian's chromium): they render the schema and
ask nothing of any host but ours (no CDN, no web fonts, no validator badge)."""

from urllib.parse import urlsplit

import pytest

from tradeplatform.tests.helpers import BROWSER_MARKS, browser_page

pytestmark = BROWSER_MARKS


@pytest.fixture
def page():
    with browser_page(timeout_ms=30_000) as page:
        yield page


@pytest.mark.parametrize(
    ("path", "rendered"),
    [("/api/docs/", ".swagger-ui .info .title"), ("/api/redoc/", "h1")],
)
def test_docs_render_from_our_host_only(live_server, db, page, path, rendered):
    ours = urlsplit(live_server.url).netloc
    asked: list[str] = []
    failed: dict[str, str] = {}
    page.on("request", lambda request: asked.append(request.url))
    page.on("requestfailed", lambda request: failed.update({request.url: request.failure}))
    page.goto(f"{live_server.url}{path}")
    page.wait_for_selector(rendered)
    assert "tradeplatform API" in page.inner_text(rendered)
    page.wait_for_load_state("networkidle")
    outside = [
        url
        for url in asked
        if urlsplit(url).scheme in ("http", "https") and urlsplit(url).netloc != ours
    ]
    # Not even a request the Content-Security-Policy would block: Redoc's footer logo
    # (cdn.redoc.ly) is gone from the bundle we serve.
    assert asked
    assert outside == []
    assert failed == {}
