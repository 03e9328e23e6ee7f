"""The flow of one run, once it holds its RUNNING row (see the package docstring):
confinement and activity checks, stop/target fills, the candle window, the sandboxed
strategy, its signal, then the signal's closes and trades in one transaction."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction

from executions import worker_guard
from executions.models import StrategyExecution
from executions.sandbox import run_strategy
from executions.trading import rules
from executions.trading.enums import Action
from executions.trading.signal_parser import SignalError, parse_signal
from marketdata.selectors import candles_window

from . import book
from .closing import trades_close_on_signal, trades_close_touched
from .lifecycle import Outcome, RunRecord, execution_recorded
from .opening import trades_open_for_signal
from .sandbox_call import candles_payload, sandbox_limits, strategy_params

Status = StrategyExecution.Status


def execution_flow(*, execution: StrategyExecution, config: dict) -> None:
    """Run the strategy of a RUNNING execution row for its candle close and end the row;
    never raises (see `lifecycle.execution_recorded`)."""
    with execution_recorded(execution) as record:
        _flow(record, config)


def _flow(record: RunRecord, config: dict) -> None:
    execution = record.execution
    candle_close = execution.candle_close
    failures = worker_guard.confinement_failures()
    if failures:
        raise Outcome(Status.FAILED, "sandbox confinement failed: " + "; ".join(failures))
    if not config.get("isActive"):
        raise Outcome(Status.SKIPPED, "strategy is not active")

    trades_close_touched(record=record)

    lookback = int(config["lookbackPeriod"])
    candles = candles_window(
        symbol=config["symbol"],
        resolution=int(config["resolution"]),
        candle_close=candle_close,
        count=lookback,
    )
    if len(candles) < lookback:
        raise Outcome(
            Status.SKIPPED, f"insufficient market data (have {len(candles)}, need {lookback})"
        )
    if candles[-1].open_time + timedelta(minutes=execution.resolution) != candle_close:
        raise Outcome(Status.SKIPPED, "no candle for this close yet (market data missing)")

    result = run_strategy(
        config["strategyCode"],
        candles_payload(candles),
        strategy_params(
            symbol=config["symbol"],
            resolution=config["resolution"],
            lookback=lookback,
            params=config.get("params"),
        ),
        limits=sandbox_limits(),
        backend=settings.SANDBOX_BACKEND,
    )
    record.output = result.output or ""
    # Kept on the row whatever follows: an invalid signal is easier to fix when seen.
    execution.signal = result.signal
    if not result.ok:
        raise Outcome(Status.FAILED, result.error or "strategy failed")
    try:
        signal = parse_signal(result.signal, last_close=candles[-1].close)
    except SignalError as exc:
        raise Outcome(Status.FAILED, f"invalid signal: {exc}") from exc

    with transaction.atomic():
        closes = rules.closes_for_signal(signal.action)
        if closes is not None:
            trades_close_on_signal(
                record=record, sides=closes.sides, price=signal.entry_price, reason=closes.reason
            )
        if signal.action in (Action.BUY, Action.SELL):
            subscribers, created = trades_open_for_signal(
                record=record, signal=signal, candles=candles
            )
        else:  # HOLD, EXIT
            subscribers, created = book.subscribers_count(strategy_id=execution.strategy_id), 0
        record.finish(Status.COMPLETED, subscribers_count=subscribers, trades_created=created)
