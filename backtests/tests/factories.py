from datetime import UTC, datetime

import factory

from backtests.models import Backtest
from strategies.tests.factories import StrategyFactory


class BacktestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Backtest

    strategy = factory.SubFactory(StrategyFactory)
    user = factory.SelfAttribute("strategy.user")
    symbol = "BTCUSDT"
    resolution = 5
    start = datetime(2026, 1, 1, tzinfo=UTC)
    end = datetime(2026, 1, 2, tzinfo=UTC)
