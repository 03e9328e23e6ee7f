"""Shared setup of the backtest tests: hourly candles, a strategy that plays a script."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from backtests.replay import backtest_run
from backtests.services import backtest_create
from marketdata.models import Candle
from strategies.tests.factories import StrategyFactory

D = Decimal
SYMBOL = "BTCUSDT"
RESOLUTION = 60
HOUR = timedelta(hours=1)
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
LOOKBACK = 3

# The strategy plays a script: the signal for the close of the candle that opened at time t.
SCRIPTED = """
def generate_signal(candles, params):
    if len(candles) != params["lookbackPeriod"]:
        raise ValueError("wrong lookback")
    return params["params"]["script"].get(candles.time[-1], {"action": "HOLD"})
"""


def opened(n: int) -> datetime:
    return T0 + HOUR * n


def closes(n: int) -> datetime:
    return opened(n + 1)


def make_candles(count: int, special: dict[int, tuple] | None = None, skip=()):
    """Flat candles (100, high 101, low 99) but for `special` {n: (high, low, close)}."""
    special = special or {}
    rows = []
    for n in range(count):
        if n in skip:
            continue
        high, low, close = special.get(n, (101, 99, 100))
        rows.append(
            Candle(
                symbol=SYMBOL,
                resolution=RESOLUTION,
                open_time=opened(n),
                open=D(100),
                high=D(str(high)),
                low=D(str(low)),
                close=D(str(close)),
                volume=D(1),
            )
        )
    Candle.objects.bulk_create(rows)


def scripted_strategy(script: dict[int, dict], lookback: int = LOOKBACK, **kwargs):
    config = {
        "symbol": SYMBOL,
        "resolution": RESOLUTION,
        "lookbackPeriod": lookback,
        "params": {"script": {opened(n).isoformat(): signal for n, signal in script.items()}},
    }
    return StrategyFactory(strategy_code=SCRIPTED, execution_config=config, **kwargs)


def run_backtest(strategy, *, start, end, **settings):
    values = {"capital": D("10000"), "risk_per_trade": D("0.01"), "leverage": 10}
    values.update(settings)
    backtest = backtest_create(
        user=strategy.user, strategy_id=strategy.id, start=start, end=end, enqueue=False, **values
    )
    backtest_run(backtest_id=backtest.id)
    backtest.refresh_from_db()
    return backtest


# Candles 0-1 are the warm-up; the replay covers the closes of candles 2-9.
SCRIPT = {
    2: {"action": "BUY", "stopLoss": 95, "takeProfit": 110},  # 20 units at 100
    4: {"action": "SELL", "stopLoss": 105},  # 20 units short at 100
    6: {"action": "BUY", "stopLoss": 98},  # 50 units at 100
    8: {"action": "EXIT"},  # at the close, 102
}
SPECIAL = {3: (111, 99, 108), 5: (106, 99, 100), 8: (103, 99, 102)}
