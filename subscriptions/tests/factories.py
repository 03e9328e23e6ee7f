from decimal import Decimal

import factory

from accounts.tests.factories import BrokerCredentialFactory, UserFactory
from strategies.tests.factories import StrategyFactory
from subscriptions.models import StrategySubscription


class SubscriptionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StrategySubscription

    user = factory.SubFactory(UserFactory)
    strategy = factory.SubFactory(StrategyFactory)
    broker_credential = factory.SubFactory(
        BrokerCredentialFactory, user=factory.SelfAttribute("..user")
    )
    capital = Decimal("10000")
    risk_per_trade = Decimal("0.01")
    leverage = 10
    max_positions = 1
    max_daily_loss = Decimal("0.05")
