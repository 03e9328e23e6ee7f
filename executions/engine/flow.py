"""The flow of one run, once it holds its RUNNING row (see the package docstring):
confinement, activity, deadline and order checks, the candle window, the sandboxed
strategy and its signal, then, in turn (`ordering`), the close's trading step in one
transaction: stop/target fills, cancelled subscriptions' trades, the signal's closes and
opens, the row's end."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from executions import worker_guard
from executions.models import StrategyExecution
from executions.sandbox import run_strategy
from executions.trading import rules
from executions.trading.enums import Action
from executions.trading.signal_parser import Signal, SignalError, parse_signal
from marketdata.selectors import candles_window
from strategies.models import Strategy

from . import book
from .closing import trades_close_cancelled, trades_close_on_signal, trades_close_touched
from .lifecycle import Outcome, RunRecord, execution_recorded
from .opening import trades_open_for_signal
from .ordering import execution_in_turn, execution_superseded, missed_message, past_deadline
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
    # Cheap checks before the sandbox; the trading step checks both again, in turn.
    now = timezone.now()
    if past_deadline(execution, now):
        raise Outcome(Status.SKIPPED, missed_message(candle_close=candle_close, now=now))
    superseded = execution_superseded(execution)
    if superseded:
        raise Outcome(Status.SKIPPED, superseded)

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
    signal, failure = None, ""
    if not result.ok:
        failure = result.error or "strategy failed"
    else:
        try:
            signal = parse_signal(
                result.signal, last_close=candles[-1].close, band=settings.SIGNAL_PRICE_BAND
            )
        except SignalError as exc:
            failure = f"invalid signal: {exc}"
            if not exc.storable:
                execution.signal = None

    execution_in_turn(
        execution=execution,
        apply=lambda: _trading_step(record, config, candles, signal, failure),
        skip=lambda reason: record.finish(Status.SKIPPED, error=reason),
    )


def _candle_changed(execution: StrategyExecution, config: dict) -> str:
    """Why the strategy, as stored now, may not trade this close ("" when it may): it was
    deleted, or its candle changed, since the run read its settings."""
    row = Strategy.objects.filter(id=execution.strategy_id).values("is_active", "execution_config")
    stored = row.first()
    if stored is None or not stored["is_active"]:
        return "strategy is not active"
    if (
        str(stored["execution_config"].get("symbol", "")).upper() != execution.symbol
        or int(stored["execution_config"].get("resolution", 0)) != execution.resolution
    ):
        return "the strategy's candle changed during the run"
    return ""


def _trading_step(
    record: RunRecord, config: dict, candles, signal: Signal | None, failure: str
) -> None:
    """The close's writes, in turn (`ordering.execution_in_turn`): stop/target fills, the
    trades of cancelled subscriptions, then the signal's closes and opens, and the row's
    end, all in one transaction. A failed strategy still has its open trades checked."""
    execution = record.execution
    changed = _candle_changed(execution, config)
    if changed:
        record.finish(Status.SKIPPED, error=changed)
        return
    trades_close_touched(record=record)
    trades_close_cancelled(record=record, price=candles[-1].close)
    applied = {"applied_at": timezone.now()}
    if signal is None:
        record.finish(Status.FAILED, error=failure, **applied)
        return
    closes = rules.closes_for_signal(signal.action)
    if closes is not None:
        trades_close_on_signal(
            record=record, sides=closes.sides, price=signal.entry_price, reason=closes.reason
        )
    if signal.action in (Action.BUY, Action.SELL):
        subscribers, created = trades_open_for_signal(record=record, signal=signal, candles=candles)
    else:  # HOLD, EXIT
        subscribers, created = book.subscribers_count(strategy_id=execution.strategy_id), 0
    record.finish(
        Status.COMPLETED, subscribers_count=subscribers, trades_created=created, **applied
    )
