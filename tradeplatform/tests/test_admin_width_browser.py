"""The operators' admin at 1400 px (Debian's chromium): each list shows all its columns
without a horizontal scroll, the money columns included. Screenshots go to
$ADMIN_SCREENSHOTS (when set) for a person to look at."""

import os
from decimal import Decimal
from pathlib import Path

import pytest

from accounts.tests.factories import TEST_PASSWORD, UserFactory
from backtests.tests.factories import BacktestFactory
from executions.tests.factories import ExecutionFactory, TradeFactory
from strategies.tests.factories import StrategyFactory
from subscriptions.tests.factories import SubscriptionFactory
from tradeplatform.tests.helpers import BROWSER_MARKS, browser_page

pytestmark = BROWSER_MARKS

LISTS = (
    "strategies/strategy",
    "subscriptions/strategysubscription",
    "executions/strategyexecution",
    "executions/trade",
    "backtests/backtest",
    "accounts/user",
)


@pytest.fixture
def operator(db):
    operator = UserFactory(is_staff=True, is_superuser=True, email="operator@example.com")
    for n in range(3):
        strategy = StrategyFactory(
            name=f"A fairly long strategy name number {n} · BTCUSDT",
            code=f"a-fairly-long-strategy-code-{n}-btcusdt",
            user=UserFactory(email=f"an.author.with.a.long.address.{n}@example.com"),
        )
        subscription = SubscriptionFactory(
            strategy=strategy,
            user=UserFactory(email=f"a.subscriber.with.a.long.address.{n}@example.com"),
            capital=Decimal("1234567.12345678"),
            total_pnl=Decimal("-12345.67890123"),
        )
        execution = ExecutionFactory(strategy=strategy)
        TradeFactory(subscription=subscription, execution=execution)
        BacktestFactory(strategy=strategy)
    return operator


@pytest.fixture
def admin_page(live_server, operator):
    with browser_page(viewport={"width": 1400, "height": 900}) as page:
        page.goto(f"{live_server.url}/admin/login/")
        page.fill("#id_username", operator.email)
        page.fill("#id_password", TEST_PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_url(f"{live_server.url}/admin/")
        yield page


def test_admin_lists_fit_1400_pixels(live_server, admin_page):
    shots = os.environ.get("ADMIN_SCREENSHOTS")
    overflowing = {}
    for changelist in LISTS:
        admin_page.goto(f"{live_server.url}/admin/{changelist}/")
        admin_page.wait_for_selector("#result_list")
        if shots:
            Path(shots).mkdir(parents=True, exist_ok=True)
            admin_page.screenshot(
                path=f"{shots}/{changelist.replace('/', '-')}.png", full_page=True
            )
        # The list scrolls inside its own box when it is too wide: that box must not.
        widths = admin_page.evaluate(
            """() => {
                const box = document.querySelector('#changelist .results');
                return {
                    box: box.clientWidth, table: box.scrollWidth,
                    page: document.documentElement.clientWidth,
                    scroll: document.documentElement.scrollWidth,
                };
            }"""
        )
        if widths["table"] > widths["box"] or widths["scroll"] > widths["page"]:
            overflowing[changelist] = widths
    assert overflowing == {}, overflowing
