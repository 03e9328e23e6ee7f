from datetime import UTC, datetime, timedelta
from decimal import Decimal

import factory

from executions.models import Order, StrategyExecution, Trade
from strategies.tests.factories import StrategyFactory
from subscriptions.tests.factories import SubscriptionFactory


class ExecutionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StrategyExecution

    strategy = factory.SubFactory(StrategyFactory)
    symbol = "BTCUSDT"
    resolution = 5
    candle_close = factory.Sequence(
        lambda n: datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=5 * n)
    )
    status = StrategyExecution.Status.COMPLETED


class TradeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Trade
        skip_postgeneration_save = True

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

    @factory.post_generation
    def entry(trade, create, extracted, **kwargs):
        """Every trade has its ENTRY order; a factory trade's has filled already
        (`entry=False`: the test writes it)."""
        if create and extracted is not False:
            Order.objects.create(
                trade=trade,
                execution=trade.execution,
                credential_id=trade.subscription.broker_credential_id,
                purpose=Order.Purpose.ENTRY,
                symbol=trade.symbol,
                side=trade.side,
                quantity=trade.quantity,
                price=trade.entry_price,
                status=Order.Status.FILLED,
                filled_quantity=trade.quantity,
                average_price=trade.entry_price,
            )
