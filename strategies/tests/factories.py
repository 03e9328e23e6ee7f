import factory

from accounts.tests.factories import UserFactory
from strategies.models import Strategy

HOLD_SOURCE = 'def generate_signal(candles, params):\n    return {"action": "HOLD"}\n'


class StrategyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Strategy

    user = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"Strategy {n}")
    code = factory.Sequence(lambda n: f"strategy-{n}")
    description = "A test strategy"
    author = factory.LazyAttribute(lambda o: o.user.email)
    strategy_code = HOLD_SOURCE
    execution_config = factory.LazyFunction(
        lambda: {"symbol": "BTCUSDT", "resolution": 5, "lookbackPeriod": 50, "params": {}}
    )
    tags = "trend,test"
    is_public = True
