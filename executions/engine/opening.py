"""Opening trades on a BUY/SELL signal: one per eligible subscription, sized by the trading
rules, written at once with its ENTRY order NEW; the orders worker sends the orders after
the transaction commits (`executions.orders`): nothing here talks to an exchange."""

from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal

from executions.orders import entry_orders_create, orders_enqueue
from executions.trading import rules
from executions.trading.signal_parser import Signal
from marketdata.candles import Bar

from . import book
from .lifecycle import RunRecord

NOTE_EXAMPLES = 10  # subscription ids named per reason in the execution log


def trades_open_for_signal(
    *, record: RunRecord, signal: Signal, candles: Sequence[Bar]
) -> tuple[int, int]:
    """Open the signal's trades inside the caller's transaction; answers (active
    subscriptions, trades opened). The execution log names, per reason, the subscriptions
    that got no trade."""
    execution = record.execution
    side = signal.action
    atr: Decimal | None = None
    atr_done = False
    reasons: dict[str, list[str]] = defaultdict(list)
    entries: list[book.TradeEntry] = []
    credentials = []
    subscriptions = book.subscription_rows(
        strategy_id=execution.strategy_id, candle_close=execution.candle_close
    )
    needs_atr = rules.needs_atr(
        signal_stop_loss=signal.stop_loss, signal_take_profit=signal.take_profit
    )
    for row in subscriptions:
        reason = rules.ineligibility_reason(
            is_active=row["is_active"],
            is_paused=row["is_paused"],
            credential_active=row["credential_active"],
            open_trades=row["open_trade_count"],
            max_positions=row["max_positions"],
            realised_pnl_today=row["realised_pnl_today"],
            capital=row["capital"],
            max_daily_loss=row["max_daily_loss"],
        )
        if reason:
            reasons[reason].append(str(row["id"]))
            continue
        if needs_atr and not atr_done:
            atr, atr_done = rules.average_true_range(candles), True
        entry = rules.entry_for_signal(
            side=side,
            entry_price=signal.entry_price,
            signal_stop_loss=signal.stop_loss,
            signal_take_profit=signal.take_profit,
            atr=atr,
            capital=row["capital"],
            risk_per_trade=row["risk_per_trade"],
            leverage=row["leverage"],
            sl_atr_multiplier=row["sl_atr_multiplier"],
            tp_atr_multiplier=row["tp_atr_multiplier"],
        )
        if entry.reason:
            reasons[entry.reason].append(str(row["id"]))
            continue
        entries.append(
            (row["id"], entry.quantity, signal.entry_price, entry.stop_loss, entry.take_profit)
        )
        credentials.append(row["broker_credential_id"])
    trade_ids = book.trades_open(execution=execution, side=side, entries=entries)
    orders_enqueue(
        entry_orders_create(
            execution=execution,
            entries=[
                (trade_id, credential_id, side, quantity, price)
                for trade_id, credential_id, (_, quantity, price, _, _) in zip(
                    trade_ids, credentials, entries, strict=True
                )
            ],
        )
    )
    for reason, ids in sorted(reasons.items()):
        named = ", ".join(ids[:NOTE_EXAMPLES]) + (" …" if len(ids) > NOTE_EXAMPLES else "")
        record.notes.append(f"no trade for {len(ids)} subscription(s), {reason}: {named}")
    record.notes.append(f"opened {len(entries)} {side} trade(s) at {signal.entry_price}")
    return len(subscriptions), len(entries)
