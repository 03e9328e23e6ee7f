"""Writes of backtests: starting one (the API and `manage.py backtest`), reaping the ones
a lost worker left RUNNING."""

from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import transaction

from executions.services import running_rows_reap
from marketdata.candles import RESOLUTIONS, resolution_delta
from subscriptions.risk import DEFAULT_LEVERAGE, DEFAULT_MAX_DAILY_LOSS, DEFAULT_MAX_POSITIONS
from tradeplatform.api import ApplicationError

from .models import Backtest
from .selectors import strategy_for_backtest


def _field_error(field: str, message: str) -> ApplicationError:
    return ApplicationError(message, details={field: [message]})


def backtest_create(
    *,
    user,
    strategy_id,
    start: datetime,
    end: datetime,
    capital: Decimal,
    risk_per_trade: Decimal,
    leverage: int = DEFAULT_LEVERAGE,
    max_positions: int = DEFAULT_MAX_POSITIONS,
    max_daily_loss: Decimal = DEFAULT_MAX_DAILY_LOSS,
    sl_atr_multiplier: Decimal | None = None,
    tp_atr_multiplier: Decimal | None = None,
    fee_rate: Decimal = Decimal(0),
    slippage: Decimal = Decimal(0),
    symbol: str | None = None,
    resolution: int | None = None,
    enqueue: bool = True,
) -> Backtest:
    """A QUEUED backtest of a strategy the user may run (see `strategy_for_backtest`),
    over the candle closes in [start, end], on the strategy's candle unless `symbol` or
    `resolution` say otherwise. The Celery task is enqueued once the row is committed
    (`enqueue=False` leaves the running to the caller: the management command)."""
    strategy = strategy_for_backtest(user=user, strategy_id=strategy_id)
    symbol = (symbol or strategy.symbol).replace("/", "").strip().upper()
    resolution = int(resolution or strategy.resolution)
    if not symbol:
        raise _field_error("symbol", "The strategy has no symbol: give one")
    if resolution not in RESOLUTIONS:
        raise _field_error("resolution", f"Resolution must be one of {list(RESOLUTIONS)}")
    if start >= end:
        raise _field_error("end", "The end must be after the start")
    candles = (end - start) // resolution_delta(resolution)
    if candles > settings.BACKTEST_MAX_CANDLES:
        raise _field_error(
            "end",
            f"A backtest covers at most {settings.BACKTEST_MAX_CANDLES} candles "
            f"({candles} asked): shorten the period or take a longer resolution",
        )
    replayed = {
        "capital": capital,
        "risk_per_trade": risk_per_trade,
        "leverage": leverage,
        "max_positions": max_positions,
        "max_daily_loss": max_daily_loss,
        "sl_atr_multiplier": sl_atr_multiplier,
        "tp_atr_multiplier": tp_atr_multiplier,
        "fee_rate": fee_rate,
        "slippage": slippage,
    }
    # Stored as JSON: Decimals as exact strings.
    params = {
        name: value if value is None or isinstance(value, int) else str(value)
        for name, value in replayed.items()
    }
    with transaction.atomic():
        backtest = Backtest.objects.create(
            strategy=strategy,
            user=user,
            symbol=symbol,
            resolution=resolution,
            start=start,
            end=end,
            params=params,
        )
        if enqueue:
            from .tasks import run_backtest  # the tasks module imports the replay

            transaction.on_commit(lambda: run_backtest.delay(str(backtest.id)))
    return backtest


def stale_backtests_reap(*, now: datetime) -> int:
    """RUNNING backtests past their own time limit (plus the margin) become FAILED."""
    return running_rows_reap(
        model=Backtest,
        now=now,
        time_limit=settings.BACKTEST_TIME_LIMIT,
        message="worker lost or time limit exceeded (reaped)",
    )
