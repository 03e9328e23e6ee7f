"""Two requests at once: the database, not luck, decides who wins."""

from decimal import Decimal

import pytest

from accounts.tests.factories import BrokerCredentialFactory
from strategies.tests.factories import StrategyFactory
from subscriptions import services
from subscriptions.models import StrategySubscription
from subscriptions.tests.factories import SubscriptionFactory
from tradeplatform.api import ApplicationError
from tradeplatform.tests.helpers import THREADS, race

pytestmark = pytest.mark.django_db(transaction=True)


def test_concurrent_cancels_move_the_subscriber_count_once():
    strategy = StrategyFactory(subscriber_count=2)
    subscription = SubscriptionFactory(strategy=strategy)
    SubscriptionFactory(strategy=strategy)

    def cancel():
        fresh = StrategySubscription.objects.get(id=subscription.id)
        return services.subscription_cancel(subscription=fresh)

    outcomes = race(cancel)
    errors = [o for o in outcomes if isinstance(o, ApplicationError)]
    assert len(errors) == THREADS - 1
    assert {e.message for e in errors} == {"Subscription is already cancelled"}
    strategy.refresh_from_db()
    assert strategy.subscriber_count == 1


def test_concurrent_subscribes_create_one_subscription():
    strategy = StrategyFactory()
    credential = BrokerCredentialFactory()

    def subscribe():
        return services.subscription_create(
            user=credential.user,
            strategy_id=strategy.id,
            broker_credential_id=credential.id,
            capital=Decimal("1000"),
            risk_per_trade=Decimal("0.01"),
        )

    outcomes = race(subscribe)
    errors = [o for o in outcomes if isinstance(o, ApplicationError)]
    assert len(errors) == THREADS - 1
    assert {(e.message, e.status_code) for e in errors} == {
        ("Already subscribed to this strategy", 409)
    }
    assert StrategySubscription.objects.filter(is_active=True).count() == 1
    strategy.refresh_from_db()
    assert strategy.subscriber_count == 1
