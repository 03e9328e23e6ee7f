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


def test_subscriptions_are_not_added_in_the_admin(admin_client):
    # Users subscribe through the API (credential check, subscriber count, registry).
    assert admin_client.get("/admin/subscriptions/strategysubscription/add/").status_code == 403


def _act(admin_client, action, *subscriptions):
    return admin_client.post(
        "/admin/subscriptions/strategysubscription/",
        {"action": action, "_selected_action": [str(s.pk) for s in subscriptions]},
        follow=True,
    )


def test_actions_pause_resume_and_cancel_through_the_services(
    admin_client, django_capture_on_commit_callbacks
):
    subscription = SubscriptionFactory()
    strategy = subscription.strategy
    strategy.subscriber_count = 1
    strategy.save()

    _act(admin_client, "subscription_pause", subscription)
    subscription.refresh_from_db()
    assert subscription.is_paused and subscription.paused_at is not None

    # Pausing again is refused by the service, and the operator is told why.
    response = _act(admin_client, "subscription_pause", subscription)
    assert "already paused" in response.content.decode()

    _act(admin_client, "subscription_resume", subscription)
    subscription.refresh_from_db()
    assert not subscription.is_paused

    with django_capture_on_commit_callbacks(execute=True):
        response = _act(admin_client, "subscription_cancel", subscription)
    assert "Cancelled: 1." in response.content.decode()
    subscription.refresh_from_db()
    strategy.refresh_from_db()
    assert not subscription.is_active and subscription.unsubscribed_at is not None
    assert strategy.subscriber_count == 0  # moved once, by the service


def test_risk_settings_are_edited_under_the_api_rules(admin_client):
    subscription = SubscriptionFactory()
    url = f"/admin/subscriptions/strategysubscription/{subscription.pk}/change/"
    form = {
        "capital": "2000",
        "risk_per_trade": "0.02",
        "leverage": "5",
        "max_positions": "2",
        "max_daily_loss": "0.05",
        "sl_atr_multiplier": "",
        "tp_atr_multiplier": "",
    }
    assert admin_client.post(url, form).status_code == 302
    subscription.refresh_from_db()
    assert (subscription.capital, subscription.risk_per_trade) == (Decimal("2000"), Decimal("0.02"))

    response = admin_client.post(url, {**form, "risk_per_trade": "0.5"})
    assert response.status_code == 200
    assert "Risk per trade must be at most 0.1" in response.content.decode()
    subscription.refresh_from_db()
    assert subscription.risk_per_trade == Decimal("0.02")


def test_state_and_owner_are_not_editable_in_the_form(admin_client):
    subscription = SubscriptionFactory()
    html = admin_client.get(
        f"/admin/subscriptions/strategysubscription/{subscription.pk}/change/"
    ).content.decode()
    for field in ("is_active", "is_paused", "user", "strategy", "broker_credential"):
        assert f'name="{field}"' not in html
    assert 'name="capital"' in html


def test_change_page_lists_the_trades_and_has_per_object_state_buttons(admin_client):
    subscription = SubscriptionFactory()
    trade = TradeFactory(subscription=subscription)
    TradeFactory()  # someone else's
    url = f"/admin/subscriptions/strategysubscription/{subscription.pk}/change/"
    page = admin_client.get(url).content.decode()
    assert '<table class="recent-trades">' in page
    assert page.count("<tr><td>") == 1  # its trade only
    assert f"?subscription__id__exact={subscription.pk}" in page
    assert str(trade.entry_price) in page
    every = admin_client.get(f"/admin/executions/trade/?subscription__id__exact={subscription.pk}")
    assert every.status_code == 200
    assert "1 trade" in every.content.decode()
    assert page.count('class="state-change"') == 2
    assert f"{subscription.pk}/pause/" in page and f"{subscription.pk}/cancel/" in page
    assert f"{subscription.pk}/resume/" not in page

    paused = admin_client.post(
        f"/admin/subscriptions/strategysubscription/{subscription.pk}/pause/", follow=True
    )
    assert "Paused:" in paused.content.decode()
    subscription.refresh_from_db()
    assert subscription.is_paused
    assert f"{subscription.pk}/resume/" in paused.content.decode()

    again = admin_client.post(
        f"/admin/subscriptions/strategysubscription/{subscription.pk}/pause/", follow=True
    )
    assert "Subscription is already paused" in again.content.decode()

    admin_client.post(f"/admin/subscriptions/strategysubscription/{subscription.pk}/cancel/")
    subscription.refresh_from_db()
    assert not subscription.is_active
    assert 'class="state-change"' not in admin_client.get(url).content.decode()
    # A GET changes nothing.
    assert (
        admin_client.get(
            f"/admin/subscriptions/strategysubscription/{subscription.pk}/resume/"
        ).status_code
        == 405
    )
