"""A backtest of 10,000 one-minute candles: prints the wall time and candles per second.

    DATABASE_URL=postgres://… REDIS_URL=redis://…/N \\
        python bench/bench_backtest.py [candles] [--backend warm|process|bwrap|warm-bwrap]

Builds a throwaway test database (test_<name>, dropped at the end), seeds `candles`
(default 10,000) one-minute BTCUSDT candles from the synthetic provider with
`candles_backfill`, and backtests an SMA-crossover strategy with explicit stops (the
examples' shape, lookback 50) over them with `backtest_run`, the same code path as the
Celery task. Target (issue 8): under 30 s for 10,000 candles.
"""

import os
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradeplatform.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402
from django_redis import get_redis_connection  # noqa: E402

SMA_CROSSOVER = """
import indicators

def generate_signal(candles, params):
    fast = indicators.sma(candles.close, params["params"]["fast"])
    slow = indicators.sma(candles.close, params["params"]["slow"])
    last = candles.close[-1]
    if indicators.crossover(fast, slow):
        return {"action": "BUY", "stopLoss": last * 0.995, "takeProfit": last * 1.01}
    if indicators.crossunder(fast, slow):
        return {"action": "SELL", "stopLoss": last * 1.005, "takeProfit": last * 0.99}
    return {"action": "HOLD"}
"""


def main() -> None:
    from accounts.models import User
    from backtests.replay import backtest_run
    from backtests.services import backtest_create
    from marketdata.candles import candle_close_floor
    from marketdata.services import candles_backfill
    from strategies.models import Strategy

    numbers = [arg for arg in sys.argv[1:] if arg.isdigit()]
    count = int(numbers[0]) if numbers else 10_000
    if "--backend" in sys.argv:
        settings.SANDBOX_BACKEND = sys.argv[sys.argv.index("--backend") + 1]
    lookback = 50
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        get_redis_connection("default").flushdb()
        end = candle_close_floor(timezone.now(), 1)
        seeding = time.perf_counter()
        added, cursor, remaining = 0, end, count + lookback
        while remaining:  # the synthetic provider gives at most 50,000 candles a call
            batch = min(remaining, 40_000)
            added += candles_backfill(symbol="BTCUSDT", resolution=1, end_close=cursor, count=batch)
            cursor -= timedelta(minutes=batch)
            remaining -= batch
        seeded = time.perf_counter() - seeding
        author = User.objects.create_user("author@bench.example", "x")
        strategy = Strategy.objects.create(
            user=author,
            name="bench sma crossover",
            code="bench-sma",
            strategy_code=SMA_CROSSOVER,
            execution_config={
                "symbol": "BTCUSDT",
                "resolution": 1,
                "lookbackPeriod": lookback,
                "params": {"fast": 9, "slow": 21},
            },
        )
        backtest = backtest_create(
            user=author,
            strategy_id=strategy.id,
            start=end - timedelta(minutes=count - 1),
            end=end,
            capital=Decimal("10000"),
            risk_per_trade=Decimal("0.01"),
            fee_rate=Decimal("0.0004"),
            slippage=Decimal("0.0001"),
            enqueue=False,
        )
        started = time.perf_counter()
        backtest_run(backtest_id=backtest.id)
        elapsed = time.perf_counter() - started
        backtest.refresh_from_db()
        metrics = backtest.metrics or {}
        print(f"sandbox backend:  {settings.SANDBOX_BACKEND}")
        print(f"candles seeded:   {added} in {seeded:.2f} s (synthetic provider)")
        print(f"candles walked:   {backtest.progress_done}/{backtest.progress_total}")
        print(f"status:           {backtest.status} {backtest.error_message}")
        print(f"trades:           {metrics.get('total_trades')}")
        print(f"total return:     {metrics.get('total_return')}")
        print(f"wall time:        {elapsed:.2f} s")
        print(f"candles/s:        {backtest.progress_done / elapsed:,.0f}")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
