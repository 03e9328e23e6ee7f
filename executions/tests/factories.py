from datetime import UTC, datetime, timedelta
from decimal import Decimal

import factory

from executions.models import Backtest, Candle, StrategyExecution, Trade
from strategies.tests.factories import StrategyFactory
from subscriptions.tests.factories import SubscriptionFactory


class CandleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Candle

    symbol = "BTCUSDT"
    resolution = 5
    open_time = factory.Sequence(
        lambda n: datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=5 * n)
    )
    open = Decimal("100")
    high = Decimal("101")
    low = Decimal("99")
    close = Decimal("100")
    volume = Decimal("10")


class ExecutionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StrategyExecution

    strategy = factory.SubFactory(StrategyFactory)
    symbol = "BTCUSDT"
    resolution = 5
    scheduled_time = factory.Sequence(
        lambda n: datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=5 * n)
    )
    status = StrategyExecution.Status.COMPLETED


class TradeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Trade

    subscription = factory.SubFactory(SubscriptionFactory)
    execution = factory.SubFactory(
        ExecutionFactory, strategy=factory.SelfAttribute("..subscription.strategy")
    )
    symbol = "BTCUSDT"
    side = Trade.Side.BUY
    quantity = Decimal("1")
    entry_price = Decimal("100")
    stop_loss = Decimal("95")
    take_profit = Decimal("110")


class BacktestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Backtest

    strategy = factory.SubFactory(StrategyFactory)
    user = factory.SelfAttribute("strategy.user")
    symbol = "BTCUSDT"
    resolution = 5
    start = datetime(2026, 1, 1, tzinfo=UTC)
    end = datetime(2026, 1, 2, tzinfo=UTC)
