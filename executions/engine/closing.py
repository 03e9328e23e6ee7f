"""Closing open trades: stop-loss / take-profit levels touched candle by candle, the
closes a signal asks for (EXIT: every open trade; BUY/SELL: the opposite side), and the
trades of cancelled subscriptions.

A close is a request: the trade becomes CLOSING with a reduce-only market order NEW at
the price the candles or the signal give (the paper exchange fills there), which the
orders worker sends after commit; the fills close the trade, with its PnL
(`executions.orders`). A trade whose protections rest on the exchange is not watched
here: the exchange closes it, and the orders worker books that."""

from bisect import bisect_left
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal

from executions.models import Trade
from executions.orders import orders_enqueue, trades_close_request
from executions.trading import rules
from marketdata.selectors import candles_between

from . import book
from .lifecycle import RunRecord


def _close_requested(
    trades: list[Trade], *, reason: str, prices: dict, execution, closed_at: datetime
) -> list:
    """Close requests for `trades` (one statement set whatever their number), their
    orders handed to the orders worker after commit; answers the orders' ids."""
    order_ids = trades_close_request(
        trades=trades, reason=reason, prices=prices, execution=execution, closed_at=closed_at
    )
    orders_enqueue(order_ids)
    return order_ids


def trades_close_touched(*, record: RunRecord) -> None:
    """Close the strategy's open trades whose stop-loss or take-profit a candle touched
    since each opened, up to this close, at that price (at the open when the candle opened
    beyond it), inside the caller's transaction (the close's trading step)."""
    execution = record.execution
    candle_close = execution.candle_close
    trades = [
        trade
        for trade in book.open_trades_of_strategy(
            strategy_id=execution.strategy_id, symbol=execution.symbol, opened_at=True
        )
        if not trade.protected_on_exchange
    ]
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
    touched: dict[tuple, list] = {}
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
                touched.setdefault((reason, candle.open_time + period), []).append((trade, price))
                break
    for (reason, closed_at), hits in sorted(touched.items()):
        _close_requested(
            [trade for trade, _ in hits],
            reason=reason,
            prices={trade.id: price for trade, price in hits},
            execution=execution,
            closed_at=closed_at,
        )
    if touched:
        stops = sum(len(h) for (r, _), h in touched.items() if r == Trade.ExitReason.STOP_LOSS)
        total = sum(len(hits) for hits in touched.values())
        record.notes.append(
            f"closing {total} trade(s): {stops} at stop-loss, {total - stops} at take-profit"
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
    closing = _close_requested(
        trades,
        reason=reason,
        prices={trade.id: price for trade in trades},
        execution=execution,
        closed_at=execution.candle_close,
    )
    if closing:
        record.notes.append(f"closing {len(closing)} trade(s) on {reason} at {price}")


def trades_close_cancelled(*, record: RunRecord, price: Decimal) -> None:
    """Close the open trades of the strategy's cancelled subscriptions (those that did not
    keep them) at this close's price, reason CANCELLED, inside the caller's transaction."""
    execution = record.execution
    trades = book.open_trades_of_strategy(
        strategy_id=execution.strategy_id, symbol=execution.symbol, for_update=True, cancelled=True
    )
    closing = _close_requested(
        trades,
        reason=Trade.ExitReason.CANCELLED,
        prices={trade.id: price for trade in trades},
        execution=execution,
        closed_at=execution.candle_close,
    )
    if closing:
        record.notes.append(
            f"closing {len(closing)} trade(s) of cancelled subscriptions at {price}"
        )
