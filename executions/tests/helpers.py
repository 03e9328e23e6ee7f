"""Shared setup of the candle-close flow tests: candles, strategies and sources."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
from django.db import connection

from marketdata.models import Candle
from strategies.tests.factories import StrategyFactory

SYMBOL = "BTCUSDT"
RESOLUTION = 5
PERIOD = timedelta(minutes=RESOLUTION)
CLOSE = datetime(2026, 1, 15, 15, 0, tzinfo=UTC)
LOOKBACK = 20


def source(body: str) -> str:
    return f"def generate_signal(candles, params):\n    {body}\n"


BUY_WITH_STOPS = source('return {"action": "BUY", "stopLoss": 95.0, "takeProfit": 110.0}')
BUY_ATR_FALLBACK = source('return {"action": "BUY"}')
SELL_WITH_STOPS = source('return {"action": "SELL", "stopLoss": 105.0, "takeProfit": 90.0}')
EXIT = source('return {"action": "EXIT"}')
HOLD = source('print("holding at", candles.close[-1]); return {"action": "HOLD"}')


def make_candles(count: int = 30, *, candle_close: datetime = CLOSE, symbol: str = SYMBOL):
    """`count` flat candles (close 100, high 101, low 99: ATR(14) = 2) ending at `candle_close`."""
    first_open = candle_close - PERIOD * count
    return Candle.objects.bulk_create(
        Candle(
            symbol=symbol,
            resolution=RESOLUTION,
            open_time=first_open + PERIOD * n,
            open=Decimal("100"),
            high=Decimal("101"),
            low=Decimal("99"),
            close=Decimal("100"),
            volume=Decimal("10"),
        )
        for n in range(count)
    )


def make_strategy(code: str, **kwargs):
    config = {"symbol": SYMBOL, "resolution": RESOLUTION, "lookbackPeriod": LOOKBACK, "params": {}}
    return StrategyFactory(strategy_code=code, execution_config=config, **kwargs)


@contextmanager
def run_owned_elsewhere(*, strategy_id, candle_close: datetime = CLOSE) -> Iterator[None]:
    """A live run of (strategy, close) in another session: another connection to the test
    database holds that close's lock for the block (as a worker running it would)."""
    from executions.engine import close_lock_key

    settings = connection.settings_dict
    with psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        password=settings["PASSWORD"] or None,
        host=settings["HOST"],
        port=settings["PORT"] or None,
        autocommit=True,
    ) as other:
        key = close_lock_key(strategy_id=strategy_id, candle_close=candle_close)
        other.execute("SELECT pg_advisory_lock(%s)", [key])
        yield
