"""One candle close with many subscribers: prints the wall time and the SQL statements.

    DATABASE_URL=postgres://… REDIS_URL=redis://…/N \\
        python bench/candle_close.py [subscribers] [--open-trades]

Builds a throwaway test database (test_<name>, dropped at the end), one BUY strategy with
`subscribers` paper subscriptions (default 10,000) and 30 candles, then times
`execution_run` for that close: the sandbox run, the one subscription query, sizing, the
trade insert and the counters. With --open-trades every subscription first holds a long
that the closing candle stops out, so the close also settles that many trades. Target
(issue 7): <= 1 s for 10,000 subscribers, and a statement count that does not depend on
the number of subscribers.
"""

import os
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradeplatform.settings")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django_redis import get_redis_connection  # noqa: E402

CLOSE = datetime(2026, 1, 15, 15, 0, tzinfo=UTC)
BUY = 'def generate_signal(candles, params):\n    return {"action": "BUY", "stopLoss": 95.0}\n'


def open_trades(strategy) -> None:
    """Give every subscription an open long that the last candle (low 99) stops out."""
    from executions.engine.book import trades_insert
    from executions.models import StrategyExecution, Trade

    earlier = StrategyExecution.objects.create(
        strategy=strategy,
        symbol="BTCUSDT",
        resolution=5,
        candle_close=CLOSE - timedelta(minutes=5),
        status=StrategyExecution.Status.COMPLETED,
    )
    trades_insert(
        [
            Trade(
                subscription_id=subscription_id,
                execution=earlier,
                symbol="BTCUSDT",
                side="BUY",
                quantity=Decimal("2"),
                entry_price=Decimal("100"),
                stop_loss=Decimal("99.5"),
            )
            for subscription_id in strategy.subscriptions.values_list("id", flat=True)
        ]
    )


def build(subscribers: int):
    from _seed import seed_credentials

    from accounts.models import BrokerCredential, User
    from marketdata.models import Candle
    from strategies.models import Strategy
    from subscriptions.models import StrategySubscription

    author = User.objects.create_user("author@bench.example", "x")
    strategy = Strategy.objects.create(
        user=author,
        name="bench",
        code="bench",
        strategy_code=BUY,
        execution_config={"symbol": "BTCUSDT", "resolution": 5, "lookbackPeriod": 20},
    )
    users = User.objects.bulk_create(
        User(email=f"trader{n}@bench.example", password="!") for n in range(subscribers)
    )
    credentials = seed_credentials(
        users, broker_name=BrokerCredential.PAPER, keys=[("k", "s")] * len(users)
    )
    StrategySubscription.objects.bulk_create(
        StrategySubscription(
            user=user,
            strategy=strategy,
            broker_credential=credential,
            capital=Decimal("10000"),
            risk_per_trade=Decimal("0.01"),
        )
        for user, credential in zip(users, credentials, strict=True)
    )
    period = timedelta(minutes=5)
    Candle.objects.bulk_create(
        Candle(
            symbol="BTCUSDT",
            resolution=5,
            open_time=CLOSE - period * (n + 1),
            open=Decimal(100),
            high=Decimal(101),
            low=Decimal(99),
            close=Decimal(100),
            volume=Decimal(1),
        )
        for n in range(30)
    )
    return strategy


def main() -> None:
    from executions.engine import execution_run

    numbers = [arg for arg in sys.argv[1:] if arg.isdigit()]
    subscribers = int(numbers[0]) if numbers else 10_000
    with_open_trades = "--open-trades" in sys.argv
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        get_redis_connection("default").flushdb()
        strategy = build(subscribers)
        if with_open_trades:
            open_trades(strategy)
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as queries:
            execution = execution_run(strategy_id=strategy.id, candle_close=CLOSE)
        elapsed = time.perf_counter() - started
        print(f"subscribers:       {subscribers}")
        print(f"status:            {execution.status} {execution.error_message}")
        print(f"trades created:    {execution.trades_created}")
        print(f"stopped out first: {subscribers if with_open_trades else 0}")
        print(f"wall time:         {elapsed:.3f} s")
        # CaptureQueriesContext does not see the COPY that writes the trades.
        print(f"SQL statements:    {len(queries)} + 1 COPY")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
