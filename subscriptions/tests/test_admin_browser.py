"""End to end in a real browser: an operator logs into the admin and sees a subscription's
equity chart. Needs Debian's chromium (`apt-get install chromium`); deselect with
`-m "not browser"`."""

import os
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from accounts.tests.factories import TEST_PASSWORD, UserFactory
from executions.models import Trade
from executions.tests.factories import TradeFactory
from subscriptions.tests.factories import SubscriptionFactory

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="/usr/bin/chromium is missing (apt-get install chromium)"
    ),
]


@pytest.fixture
def operator(db):
    return UserFactory(is_staff=True, is_superuser=True)


@pytest.fixture
def subscription(db):
    subscription = SubscriptionFactory(capital=Decimal("1000"))
    for minute, pnl in enumerate(("25", "-10", "40")):
        TradeFactory(
            subscription=subscription,
            status=Trade.Status.CLOSED,
            pnl=Decimal(pnl),
            exit_price=Decimal("101"),
            closed_at=datetime(2026, 1, 2, 10, minute, tzinfo=UTC),
        )
    return subscription


@pytest.fixture
def browser_page():
    sync_api = pytest.importorskip("playwright.sync_api")
    # The rows are made before the browser starts (the fixtures above come first): under
    # Playwright's event loop the ORM would refuse to run, or open a second connection.
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(20_000)
            yield page
        finally:
            browser.close()


def test_operator_sees_the_equity_chart_of_a_subscription(
    live_server, operator, subscription, browser_page
):
    page = browser_page
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", operator.email)
    page.fill("#id_password", TEST_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")

    page.goto(f"{live_server.url}/admin/subscriptions/strategysubscription/")
    page.click(f"a[href$='/{subscription.pk}/change/']")
    chart = page.locator(".field-equity_chart svg")
    chart.wait_for()
    assert chart.is_visible()
    points = chart.locator("polyline").get_attribute("points").split()
    assert len(points) == 4  # the capital, then three closed trades
    assert chart.locator("circle").count() == 4
    assert "Equity" in chart.locator("title").first.text_content()
    if os.environ.get("BROWSER_SCREENSHOT"):
        page.screenshot(path=os.environ["BROWSER_SCREENSHOT"], full_page=True)
    assert re.search(r"1[,.]?055", page.content())  # the final equity, 1000 + 55
