"""Closing open trades: stop-loss / take-profit fills candle by candle, and the closes a
signal asks for (EXIT: every open trade; BUY/SELL: the opposite side), with their PnL."""

from bisect import bisect_left
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction

from executions.models import Trade
from executions.trading import rules
from marketdata.selectors import candles_between

from . import book
from .lifecycle import RunRecord


def _mark_closed(trade: Trade, price: Decimal, reason: str, closed_at: datetime) -> None:
    trade.exit_price = price
    trade.exit_reason = reason
    trade.status = Trade.Status.CLOSED
    trade.pnl = rules.pnl(trade.side, trade.quantity, trade.entry_price, price)
    trade.closed_at = closed_at


def trades_close_touched(*, record: RunRecord) -> None:
    """Close the strategy's open trades whose stop-loss or take-profit a candle touched
    since each opened, up to this close, at that price (in their own transaction)."""
    execution = record.execution
    candle_close = execution.candle_close
    trades = book.open_trades_of_strategy(
        strategy_id=execution.strategy_id, symbol=execution.symbol, opened_at=True
    )
    if not trades:
        return
    period = timedelta(minutes=execution.resolution)
    # A trade opened at close T is first exposed to the candle that opens at T.
    candles = candles_between(
        symbol=execution.symbol,
        resolution=execution.resolution,
        first_open=min(trade.opened_at for trade in trades),
        last_open=candle_close - period,
    )
    opens = [candle.open_time for candle in candles]
    closed = []
    for trade in trades:
        position = rules.Position(
            side=trade.side,
            entry_price=trade.entry_price,
            stop_loss=trade.stop_loss,
            take_profit=trade.take_profit,
        )
        for candle in candles[bisect_left(opens, trade.opened_at) :]:
            fill = rules.exit_for_candle(position, candle)
            if fill is not None:
                price, reason = fill
                _mark_closed(trade, price, reason, candle.open_time + period)
                closed.append(trade)
                break
    if closed:
        with transaction.atomic():
            closed = book.trades_close(closed)
        stops = sum(1 for trade in closed if trade.exit_reason == Trade.ExitReason.STOP_LOSS)
        record.notes.append(
            f"closed {len(closed)} trade(s): {stops} at stop-loss, "
            f"{len(closed) - stops} at take-profit"
        )


def trades_close_on_signal(
    *, record: RunRecord, sides: Iterable[str] | None, price: Decimal, reason: str
) -> None:
    """Close the strategy's open trades of `sides` (all when None) at the signal's price,
    inside the caller's transaction (the rows are locked first)."""
    execution = record.execution
    trades = book.open_trades_of_strategy(
        strategy_id=execution.strategy_id, symbol=execution.symbol, sides=sides, for_update=True
    )
    for trade in trades:
        _mark_closed(trade, price, reason, execution.candle_close)
    closed = book.trades_close(trades)
    if closed:
        record.notes.append(f"closed {len(closed)} trade(s) on {reason} at {price}")
