"""End to end in a real browser: an operator logs into the admin and sees a subscription's
equity chart. Needs Debian's chromium (`apt-get install chromium`); deselect with
`-m "not browser"`."""

import os
import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from accounts.tests.factories import TEST_PASSWORD, UserFactory
from executions.models import Trade
from executions.tests.factories import TradeFactory
from subscriptions.tests.factories import SubscriptionFactory
from tradeplatform.tests.helpers import BROWSER_MARKS, browser_page

pytestmark = BROWSER_MARKS


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
def page():
    # The rows are made before the browser starts (the fixtures above come first).
    with browser_page() as page:
        yield page


def test_operator_sees_the_equity_chart_of_a_subscription(
    live_server, operator, subscription, page
):
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
