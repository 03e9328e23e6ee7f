"""Backtests: the live trading rules replayed over stored candles.

Two layers:

* :class:`Simulation` is pure (no ORM, no sandbox): one subscriber's book fed one closed
  candle and one raw signal at a time. At each candle close it does what the live engine
  (`executions.engine.execution_run`) does at that close, in the same order, with the same
  functions of `executions.trading` and `executions.signals`:

  1. stop-loss / take-profit fills of the open positions within this candle (the stop
     first when the candle touches both: ``trading.exit_for_candle``);
  2. the strategy's signal for this close (``parse_signal``: the price is the candle's
     close, never the strategy's ``entryPrice``; stops outside ``SIGNAL_PRICE_BAND`` of it
     make the signal invalid): EXIT closes every open position at that price, BUY/SELL
     first closes the opposite side there (reason SIGNAL), then opens one position if the
     subscriber is eligible (``trading.ineligibility_reason``: max positions, max daily
     loss by UTC day of the close), with the stops of ``trading.stops_for_entry`` (ATR
     fallback over the same lookback window) and the quantity of ``trading.position_size``.

  What live does not have, a backtest adds on top: ``fee_rate`` x notional on every entry
  and exit fill, and ``slippage`` against the trader on every market fill (entries,
  signal exits, stop-loss fills, the final close; a take-profit is a limit order and
  fills at its price; a candle that opens beyond a stop or target fills it at the open,
  as live). Sizing uses the close, as live does before the broker
  fills. Capital is the subscriber's fixed capital, as live (no compounding). A
  position still open at the end closes at the last candle's close (reason END) so every
  trade has a PnL.

* :func:`backtest_run` is the runner: it loads the candles, asks the sandbox for the
  strategy's signals (:func:`executions.sandbox.run_strategy_series`, one execution per
  chunk of candles, each call seeing exactly the lookback it would have had live),
  feeds the simulation, saves progress per chunk, then the trades, the metrics and the
  equity curve.

Missing candles are reported (``Backtest.missing_candles``), never bridged: the walk goes
from one stored candle to the next, exactly as live would see the database, where a
window of ``lookbackPeriod`` candles is the last that many stored ones.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from executions import trading, worker_guard
from executions.backtest_metrics import ClosedTrade, backtest_metrics, metrics_to_json
from executions.candles import resolution_delta
from executions.engine import candles_payload, sandbox_limits
from executions.marketdata.base import Bar
from executions.models import Backtest, BacktestTrade, Candle
from executions.sandbox import run_strategy_series
from executions.signals import DEFAULT_PRICE_BAND, Signal, SignalError, parse_signal

logger = logging.getLogger(__name__)

ZERO = Decimal(0)
# Candles per sandbox execution: bounds the request and answer sizes and sets how often
# progress is saved.
CHUNK_CANDLES = 2000
EQUITY_CURVE_POINTS = 1000  # points stored; the metrics use every candle's equity
ERROR_EXAMPLES = 5
MAX_MISSING_LISTED = 1000


@dataclass(frozen=True)
class BacktestSettings:
    """A subscriber's risk settings, plus the costs only a backtest models."""

    capital: Decimal
    risk_per_trade: Decimal
    leverage: int = 10
    max_positions: int = 1
    max_daily_loss: Decimal = Decimal("0.05")
    sl_atr_multiplier: Decimal | None = None
    tp_atr_multiplier: Decimal | None = None
    fee_rate: Decimal = ZERO
    slippage: Decimal = ZERO

    @classmethod
    def from_params(cls, params: dict) -> BacktestSettings:
        """From `Backtest.params` (numbers stored as strings)."""

        def number(name, default=None):
            value = params.get(name)
            return default if value is None else Decimal(str(value))

        return cls(
            capital=number("capital"),
            risk_per_trade=number("risk_per_trade"),
            leverage=int(params.get("leverage", 10)),
            max_positions=int(params.get("max_positions", 1)),
            max_daily_loss=number("max_daily_loss", Decimal("0.05")),
            sl_atr_multiplier=number("sl_atr_multiplier"),
            tp_atr_multiplier=number("tp_atr_multiplier"),
            fee_rate=number("fee_rate", ZERO),
            slippage=number("slippage", ZERO),
        )


@dataclass
class SimulatedTrade:
    side: str
    quantity: Decimal
    entry_time: datetime
    entry_price: Decimal  # the fill, after slippage
    stop_loss: Decimal
    take_profit: Decimal | None
    fee: Decimal  # entry fee, plus the exit fee once closed
    exit_time: datetime | None = None
    exit_price: Decimal | None = None
    exit_reason: str = ""
    pnl: Decimal | None = None  # net of both fees

    def position(self) -> trading.Position:
        return trading.Position(self.side, self.entry_price, self.stop_loss, self.take_profit)


def _money(value: Decimal) -> Decimal:
    return value.quantize(trading.PNL_STEP, rounding=ROUND_HALF_EVEN)


@dataclass
class Simulation:
    """One subscriber's book over closed candles, in the live engine's order (see the
    module docstring). Feed it with :meth:`step`, end it with :meth:`finish`."""

    settings: BacktestSettings
    resolution: int
    price_band: Decimal = DEFAULT_PRICE_BAND  # SIGNAL_PRICE_BAND, as live
    open_trades: list[SimulatedTrade] = field(default_factory=list)
    closed_trades: list[SimulatedTrade] = field(default_factory=list)
    equity: list[tuple[datetime, Decimal]] = field(default_factory=list)
    exposed_candles: int = 0
    candles_walked: int = 0
    notes: dict[str, int] = field(default_factory=dict)
    realised: Decimal = ZERO
    _realised_by_day: dict[date, Decimal] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.period = resolution_delta(self.resolution)

    # -- the walk --------------------------------------------------------------------

    def step(self, bar: Bar, *, window: Sequence[Bar], raw_signal: dict | None) -> None:
        """Candle `bar` has closed: exits within it, then the signal for its close.
        `window` is the lookback the strategy saw (for the ATR fallback); `raw_signal`
        None means no signal at this close (not enough candles, or the strategy failed)."""
        close_time = bar.open_time + self.period
        self.candles_walked += 1
        if self.open_trades:
            self.exposed_candles += 1
        for trade in list(self.open_trades):
            fill = trading.exit_for_candle(trade.position(), bar)
            if fill is not None:
                price, reason = fill
                if reason == trading.STOP_LOSS:
                    price = self._slipped(price, buying=trade.side == trading.SELL)
                self._close(trade, price, reason, close_time)
        if raw_signal is not None:
            try:
                signal = parse_signal(raw_signal, last_close=bar.close, band=self.price_band)
            except SignalError:
                self._note("invalid signal")
            else:
                self._act(signal, window, close_time)
        self.equity.append((close_time, self.mark(bar.close)))

    def finish(self, bar: Bar) -> None:
        """End of the period: close what is still open at the last close (reason END)."""
        close_time = bar.open_time + self.period
        for trade in list(self.open_trades):
            price = self._slipped(bar.close, buying=trade.side == trading.SELL)
            self._close(trade, price, BacktestTrade.ExitReason.END, close_time)
        if self.equity and self.equity[-1][0] == close_time:
            self.equity[-1] = (close_time, self.mark(bar.close))

    def mark(self, price: Decimal) -> Decimal:
        """Equity at `price`: capital, realised PnL (net) and open positions' PnL less
        their entry fees."""
        unrealised = sum(
            (
                trading.pnl(trade.side, trade.quantity, trade.entry_price, price) - trade.fee
                for trade in self.open_trades
            ),
            ZERO,
        )
        return self.settings.capital + self.realised + unrealised

    # -- signal ----------------------------------------------------------------------

    def _act(self, signal: Signal, window: Sequence[Bar], close_time: datetime) -> None:
        closes = trading.closes_for_signal(signal.action)
        if closes is not None:
            for trade in list(self.open_trades):
                if closes.sides is None or trade.side in closes.sides:
                    price = self._slipped(signal.entry_price, buying=trade.side == trading.SELL)
                    self._close(trade, price, closes.reason, close_time)
        if signal.action in (trading.BUY, trading.SELL):
            self._open(signal, window, close_time)

    def _open(self, signal: Signal, window: Sequence[Bar], close_time: datetime) -> None:
        config = self.settings
        reason = trading.ineligibility_reason(
            is_active=True,
            is_paused=False,
            credential_active=True,
            open_trades=len(self.open_trades),
            max_positions=config.max_positions,
            realised_pnl_today=self._realised_by_day.get(close_time.date(), ZERO),
            capital=config.capital,
            max_daily_loss=config.max_daily_loss,
        )
        if reason:
            self._note(reason)
            return
        needs_atr = trading.needs_atr(
            signal_stop_loss=signal.stop_loss, signal_take_profit=signal.take_profit
        )
        entry = trading.entry_for_signal(
            side=signal.action,
            entry_price=signal.entry_price,
            signal_stop_loss=signal.stop_loss,
            signal_take_profit=signal.take_profit,
            atr=trading.average_true_range(window) if needs_atr else None,
            capital=config.capital,
            risk_per_trade=config.risk_per_trade,
            leverage=config.leverage,
            sl_atr_multiplier=config.sl_atr_multiplier,
            tp_atr_multiplier=config.tp_atr_multiplier,
        )
        if entry.reason:
            self._note(entry.reason)
            return
        price = self._slipped(signal.entry_price, buying=signal.action == trading.BUY)
        self.open_trades.append(
            SimulatedTrade(
                side=signal.action,
                quantity=entry.quantity,
                entry_time=close_time,
                entry_price=price,
                stop_loss=entry.stop_loss,
                take_profit=entry.take_profit,
                fee=self._fee(entry.quantity, price),
            )
        )

    # -- fills -----------------------------------------------------------------------

    def _slipped(self, price: Decimal, *, buying: bool) -> Decimal:
        """A market fill: slippage against the trader (a buy pays more, a sell gets less)."""
        slippage = self.settings.slippage
        if not slippage:
            return price
        factor = 1 + slippage if buying else 1 - slippage
        return (price * factor).quantize(trading.PRICE_STEP, rounding=ROUND_HALF_EVEN)

    def _fee(self, quantity: Decimal, price: Decimal) -> Decimal:
        return _money(self.settings.fee_rate * quantity * price)

    def _close(self, trade: SimulatedTrade, price: Decimal, reason: str, when: datetime) -> None:
        trade.fee += self._fee(trade.quantity, price)
        trade.exit_price, trade.exit_reason, trade.exit_time = price, reason, when
        trade.pnl = trading.pnl(trade.side, trade.quantity, trade.entry_price, price) - trade.fee
        self.open_trades.remove(trade)
        self.closed_trades.append(trade)
        self.realised += trade.pnl
        day = when.date()
        self._realised_by_day[day] = self._realised_by_day.get(day, ZERO) + trade.pnl

    def _note(self, reason: str) -> None:
        self.notes[reason] = self.notes.get(reason, 0) + 1


# --------------------------------------------------------------------------- the runner


class BacktestFailed(Exception):
    """Ends a backtest FAILED with this message (for the user who ran it)."""


Progress = Callable[[int, int], None]


def backtest_run(*, backtest_id, progress: Progress | None = None) -> Backtest | None:
    """Run a QUEUED backtest to COMPLETED or FAILED. Claims it with a conditional UPDATE
    (a duplicate or redelivered task finds nothing to claim and returns None). `progress`
    (done, total) is called after every chunk of candles."""
    now = timezone.now()
    claimed = Backtest.objects.filter(id=backtest_id, status=Backtest.Status.QUEUED).update(
        status=Backtest.Status.RUNNING, started_at=now
    )
    if claimed != 1:
        return None
    backtest = Backtest.objects.select_related("strategy").get(id=backtest_id)
    try:
        _Replay(backtest, progress).run()
    except BacktestFailed as exc:
        _fail(backtest, str(exc))
    except SoftTimeLimitExceeded:
        _fail(
            backtest, f"time limit exceeded ({settings.BACKTEST_TIME_LIMIT} s): shorten the period"
        )
    except Exception as exc:
        logger.exception("backtest %s failed unexpectedly", backtest.id)
        _fail(backtest, f"internal error: {type(exc).__name__}: {exc}")
    return backtest


def _fail(backtest: Backtest, message: str) -> None:
    backtest.status = Backtest.Status.FAILED
    backtest.error_message = message[:4000]
    backtest.completed_at = timezone.now()
    backtest.save(update_fields=["status", "error_message", "completed_at"])


def _bars(queryset) -> list[Bar]:
    """Stored candles as plain bars (cheaper than model instances for 200,000 rows)."""
    return [
        Bar(*row)
        for row in queryset.values_list("open_time", "open", "high", "low", "close", "volume")
    ]


def missing_open_times(
    bars: Sequence[Bar], *, start: datetime, end: datetime, resolution: int
) -> list[datetime]:
    """Open times of the candles closing in [start, end] that are not among `bars`."""
    period = resolution_delta(resolution)
    stored = {bar.open_time for bar in bars}
    epoch = datetime(1970, 1, 1, tzinfo=start.tzinfo)
    # The first boundary at or after start is the first close; its candle opens a period before.
    first_close = epoch + -((epoch - start) // period) * period
    missing = []
    close = first_close
    while close <= end:
        if close - period not in stored:
            missing.append(close - period)
        close += period
    return missing


class _Replay:
    def __init__(self, backtest: Backtest, progress: Progress | None):
        self.backtest = backtest
        self.progress = progress
        self.strategy = backtest.strategy
        self.lookback = max(1, self.strategy.lookback_period)
        self.period = resolution_delta(backtest.resolution)

    def run(self) -> None:
        backtest = self.backtest
        failures = worker_guard.confinement_failures()
        if failures:
            raise BacktestFailed("sandbox confinement failed: " + "; ".join(failures))
        in_range = Candle.objects.filter(
            symbol=backtest.symbol,
            resolution=backtest.resolution,
            open_time__gte=backtest.start - self.period,
            open_time__lte=backtest.end - self.period,
        ).order_by("open_time")
        replay = _bars(in_range)
        missing = missing_open_times(
            replay, start=backtest.start, end=backtest.end, resolution=backtest.resolution
        )
        backtest.missing_candles = [moment.isoformat() for moment in missing[:MAX_MISSING_LISTED]]
        backtest.missing_candles_count = len(missing)
        backtest.progress_total = len(replay)
        backtest.save(update_fields=["missing_candles", "missing_candles_count", "progress_total"])
        if not replay:
            raise BacktestFailed(
                f"no stored {backtest.symbol}:{backtest.resolution} candles close between "
                f"{backtest.start.isoformat()} and {backtest.end.isoformat()}"
            )
        # The lookback before the first close: the last stored candles, as live reads them.
        warmup = _bars(
            Candle.objects.filter(
                symbol=backtest.symbol,
                resolution=backtest.resolution,
                open_time__lt=replay[0].open_time,
            ).order_by("-open_time")[: self.lookback - 1]
        )[::-1]
        bars = warmup + replay
        simulation = Simulation(
            BacktestSettings.from_params(backtest.params),
            backtest.resolution,
            price_band=settings.SIGNAL_PRICE_BAND,
        )
        errors: dict[str, int] = {}
        first = len(warmup)
        for chunk_start in range(first, len(bars), CHUNK_CANDLES):
            chunk_end = min(chunk_start + CHUNK_CANDLES, len(bars))
            signals = self._signals(bars, chunk_start, chunk_end, errors)
            for index in range(chunk_start, chunk_end):
                window = bars[max(0, index - self.lookback + 1) : index + 1]
                simulation.step(bars[index], window=window, raw_signal=signals.get(index))
            self._progress(chunk_end - first, len(replay))
        simulation.finish(bars[-1])
        self._complete(simulation, replay, errors)

    def _signals(
        self, bars: list[Bar], chunk_start: int, chunk_end: int, errors: dict[str, int]
    ) -> dict[int, dict]:
        """The raw signals of the candles chunk_start..chunk_end-1 that have a full
        lookback (live skips the others: "insufficient market data")."""
        first_signal = max(chunk_start, self.lookback - 1)
        if first_signal >= chunk_end:
            return {}
        low = first_signal - self.lookback + 1
        config = self.strategy.execution_config
        result = run_strategy_series(
            self.strategy.strategy_code,
            candles_payload(bars[low:chunk_end]),
            {
                "symbol": self.backtest.symbol,
                "resolution": self.backtest.resolution,
                "lookbackPeriod": self.lookback,
                "params": config.get("params") or {},
            },
            lookback=self.lookback,
            first_index=first_signal - low,
            limits=sandbox_limits(),
            backend=settings.SANDBOX_BACKEND,
        )
        if not result.ok:
            closes = bars[first_signal].open_time + self.period
            raise BacktestFailed(
                f"the strategy failed (candles from {closes.isoformat()}): {result.error}"
            )
        signals = {}
        for offset, (signal, error) in enumerate(zip(result.signals, result.errors, strict=True)):
            if error:
                errors[error] = errors.get(error, 0) + 1
            else:
                signals[first_signal + offset] = signal
        return signals

    def _progress(self, done: int, total: int) -> None:
        Backtest.objects.filter(id=self.backtest.id).update(progress_done=done)
        self.backtest.progress_done = done
        if self.progress is not None:
            self.progress(done, total)

    def _complete(self, simulation: Simulation, replay: list[Bar], errors: dict) -> None:
        backtest = self.backtest
        trades = simulation.closed_trades
        metrics = backtest_metrics(
            trades=[ClosedTrade(t.exit_time, t.pnl, t.fee) for t in trades],
            equity=simulation.equity,
            capital=simulation.settings.capital,
            resolution=backtest.resolution,
            exposed_candles=simulation.exposed_candles,
            total_candles=simulation.candles_walked,
            first_close=replay[0].close,
            last_close=replay[-1].close,
        )
        metrics["candles"] = len(replay)
        metrics["exposure_minutes"] = simulation.exposed_candles * backtest.resolution
        metrics["missing_candles"] = backtest.missing_candles_count
        metrics["strategy_errors"] = sum(errors.values())
        metrics["strategy_error_examples"] = sorted(errors, key=errors.get, reverse=True)[
            :ERROR_EXAMPLES
        ]
        metrics["skipped_signals"] = dict(sorted(simulation.notes.items()))
        with transaction.atomic():
            BacktestTrade.objects.filter(backtest=backtest).delete()
            BacktestTrade.objects.bulk_create(
                (
                    BacktestTrade(
                        backtest=backtest,
                        side=trade.side,
                        quantity=trade.quantity,
                        entry_time=trade.entry_time,
                        entry_price=trade.entry_price,
                        stop_loss=trade.stop_loss,
                        take_profit=trade.take_profit,
                        exit_time=trade.exit_time,
                        exit_price=trade.exit_price,
                        exit_reason=trade.exit_reason,
                        fee=trade.fee,
                        pnl=trade.pnl,
                    )
                    for trade in trades
                ),
                batch_size=2000,
            )
            backtest.metrics = metrics_to_json(metrics)
            backtest.equity_curve = equity_curve_points(simulation.equity)
            backtest.status = Backtest.Status.COMPLETED
            backtest.completed_at = timezone.now()
            backtest.save(update_fields=["metrics", "equity_curve", "status", "completed_at"])


def equity_curve_points(
    equity: Sequence[tuple[datetime, Decimal]], limit: int = EQUITY_CURVE_POINTS
) -> list[list[str]]:
    """At most `limit` points of the curve, evenly spaced, always with the first, the last,
    and the lowest point (so a chart shows the worst moment), as [ISO time, equity]."""
    if not equity:
        return []
    step = max(1, -(-len(equity) // limit))
    keep = set(range(0, len(equity), step)) | {len(equity) - 1}
    keep.add(min(range(len(equity)), key=lambda index: equity[index][1]))
    return [[equity[index][0].isoformat(), str(equity[index][1])] for index in sorted(keep)]
