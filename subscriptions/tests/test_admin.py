import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from executions.models import Trade
from executions.tests.factories import TradeFactory
from subscriptions.admin import equity_curve
from subscriptions.tests.factories import SubscriptionFactory

pytestmark = pytest.mark.django_db


def _close(subscription, pnl, minutes):
    TradeFactory(
        subscription=subscription,
        status=Trade.Status.CLOSED,
        pnl=Decimal(pnl),
        exit_price=Decimal("101"),
        closed_at=datetime(2026, 1, 2, tzinfo=UTC) + timedelta(minutes=minutes),
    )


def test_equity_curve_starts_at_capital_and_adds_realised_pnl_in_closing_order():
    subscription = SubscriptionFactory(capital=Decimal("1000"))
    _close(subscription, "-20", minutes=10)
    _close(subscription, "50", minutes=5)
    TradeFactory(subscription=subscription)  # still open: not realised
    values = [value for _, value in equity_curve(subscription)]
    assert values == [Decimal("1000"), Decimal("1050"), Decimal("1030")]


def test_change_page_shows_the_equity_chart(admin_client):
    subscription = SubscriptionFactory(capital=Decimal("1000"))
    for minutes in range(3):
        _close(subscription, "10", minutes)
    response = admin_client.get(
        f"/admin/subscriptions/strategysubscription/{subscription.pk}/change/"
    )
    assert response.status_code == 200
    html = response.content.decode()
    points = re.search(r'<polyline[^>]* points="([^"]*)"', html).group(1).split()
    assert len(points) == 4  # the start and three closed trades


def test_list_filters_by_state(admin_client):
    active = SubscriptionFactory()
    paused = SubscriptionFactory(is_paused=True)
    cancelled = SubscriptionFactory(is_active=False)
    for state, shown, hidden in [
        ("active", active, (paused, cancelled)),
        ("paused", paused, (active, cancelled)),
        ("cancelled", cancelled, (active, paused)),
    ]:
        response = admin_client.get(f"/admin/subscriptions/strategysubscription/?state={state}")
        assert response.status_code == 200
        html = response.content.decode()
        assert str(shown.pk) in html
        assert not [other for other in hidden if str(other.pk) in html]


def test_add_page_renders(admin_client):
    assert admin_client.get("/admin/subscriptions/strategysubscription/add/").status_code == 200
