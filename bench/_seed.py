"""Fast seeding for the candle-close benchmarks: bulk inserts, no signals, no hashing."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

# Buys at every close with a 1 % stop: every eligible subscriber gets a trade.
BUY_SOURCE = (
    "def generate_signal(candles, params):\n"
    '    return {"action": "BUY", "stopLoss": candles.close[-1] * 0.99}\n'
)
SYMBOL = "BTCUSDT"
RESOLUTION = 5
LOOKBACK = 50


def seed_candles(*, candle_close: datetime, count: int, resolution: int = RESOLUTION) -> None:
    """`count` candles up to `candle_close`, a gentle zig-zag around 50,000."""
    from marketdata.models import Candle

    period = timedelta(minutes=resolution)
    candles = []
    for n in range(count):
        base = Decimal(50_000 + (n % 20) * 25)
        candles.append(
            Candle(
                symbol=SYMBOL,
                resolution=resolution,
                open_time=candle_close - period * (n + 1),
                open=base,
                high=base + 60,
                low=base - 40,
                close=base + 10,
                volume=Decimal("12.5"),
            )
        )
    Candle.objects.bulk_create(candles, ignore_conflicts=True)


def seed_strategies(count: int, *, prefix: str = "bench", resolution: int = RESOLUTION) -> list:
    from accounts.models import User
    from strategies.models import Strategy

    author = User.objects.create(email=f"{prefix}-author@bench.example", password="!")
    return Strategy.objects.bulk_create(
        Strategy(
            user=author,
            name=f"{prefix} {n}",
            code=f"{prefix}-{n}",
            author=author.email,
            strategy_code=BUY_SOURCE,
            execution_config={
                "symbol": SYMBOL,
                "resolution": resolution,
                "lookbackPeriod": LOOKBACK,
                "params": {},
            },
        )
        for n in range(count)
    )


def seed_credentials(users: list, *, broker_name: str, keys: list[tuple[str, str]]) -> list:
    """One sealed credential per user, (api key, secret) from `keys`, in one INSERT."""
    from accounts.models import BrokerCredential
    from accounts.services import broker_credential_seal

    credentials = []
    for user, (api_key, secret) in zip(users, keys, strict=True):
        credential = BrokerCredential(user=user, broker_name=broker_name)
        broker_credential_seal(credential=credential, api_key=api_key, api_secret=secret)
        credentials.append(credential)
    return BrokerCredential.objects.bulk_create(credentials, batch_size=2000)


def seed_subscribers(pairs: list[tuple[int, object]], *, prefix: str = "trader") -> int:
    """One user (with a paper credential) per distinct user number in `pairs`, and one
    active subscription per (user number, strategy). Answers the subscriptions created."""
    from accounts.models import BrokerCredential, User
    from subscriptions.models import StrategySubscription

    numbers = sorted({number for number, _ in pairs})
    users = User.objects.bulk_create(
        User(email=f"{prefix}{n}@bench.example", password="!") for n in numbers
    )
    credentials = seed_credentials(
        users,
        broker_name=BrokerCredential.PAPER,
        keys=[(f"paper-key-{n:08d}", f"paper-secret-{n:08d}") for n in numbers],
    )
    by_number = dict(zip(numbers, zip(users, credentials, strict=True), strict=True))
    subscriptions = StrategySubscription.objects.bulk_create(
        (
            StrategySubscription(
                user=by_number[number][0],
                strategy=strategy,
                broker_credential=by_number[number][1],
                capital=Decimal("10000"),
                risk_per_trade=Decimal("0.01"),
                leverage=10,
                max_positions=1,
            )
            for number, strategy in pairs
        ),
        batch_size=2000,
    )
    from django.db.models import Count, OuterRef, Subquery

    from strategies.models import Strategy

    strategy_ids = {strategy.pk for _, strategy in pairs}
    Strategy.objects.filter(pk__in=strategy_ids).update(
        subscriber_count=Subquery(
            StrategySubscription.objects.filter(strategy=OuterRef("pk"), is_active=True)
            .order_by()
            .values("strategy")
            .annotate(count=Count("id"))
            .values("count")
        )
    )
    return len(subscriptions)


def analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def seed_history(strategies: list, *, candle_close: datetime, closes: int, resolution: int) -> int:
    """A platform in operation: each strategy ran `closes` times the day before, and each
    of its subscriptions holds one closed trade per run (stopped out or taken profit).
    Then ANALYZE, as autovacuum would have: the planner sees a real trade table, not an
    empty one. Answers the trades written. Nothing here counts towards today's loss limit."""
    from django.db.models import Count

    from executions.engine.book import trades_insert
    from executions.models import StrategyExecution, Trade
    from subscriptions.models import StrategySubscription

    yesterday = candle_close - timedelta(days=1)
    period = timedelta(minutes=resolution)
    executions = StrategyExecution.objects.bulk_create(
        StrategyExecution(
            strategy=strategy,
            symbol=SYMBOL,
            resolution=resolution,
            candle_close=yesterday - period * n,
            status=StrategyExecution.Status.COMPLETED,
        )
        for strategy in strategies
        for n in range(closes)
    )
    by_strategy: dict = {}
    for execution in executions:
        by_strategy.setdefault(execution.strategy_id, []).append(execution)
    subscriptions = StrategySubscription.objects.filter(is_active=True).values_list(
        "id", "strategy_id"
    )
    trades = []
    for number, (subscription_id, strategy_id) in enumerate(subscriptions):
        for k, execution in enumerate(by_strategy.get(strategy_id, [])):
            won = (number + k) % 3 == 0
            trades.append(
                Trade(
                    subscription_id=subscription_id,
                    execution=execution,
                    symbol=SYMBOL,
                    side="BUY",
                    quantity=Decimal("0.02"),
                    entry_price=Decimal(50_000),
                    stop_loss=Decimal(49_500),
                    take_profit=Decimal(51_000),
                    exit_price=Decimal(51_000) if won else Decimal(49_500),
                    exit_reason="TAKE_PROFIT" if won else "STOP_LOSS",
                    status=Trade.Status.CLOSED,
                    pnl=Decimal(20) if won else Decimal(-10),
                    closed_at=execution.candle_close + period,
                )
            )
    trades_insert(trades)
    assert Trade.objects.aggregate(n=Count("id"))["n"] == len(trades)
    analyze()
    return len(trades)
