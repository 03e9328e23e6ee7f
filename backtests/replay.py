"""The backtest runner: the live trading rules replayed over stored candles.

:func:`backtest_run` claims a QUEUED backtest, loads its candles (`marketdata.selectors`),
asks the sandbox for the strategy's signals (:func:`executions.sandbox.run_strategy_series`,
one execution per chunk of candles, each call seeing exactly the lookback it would have
had live), feeds them to the pure :class:`~backtests.simulation.Simulation`, saves
progress per chunk, then the trades, the metrics and the equity curve.

First the period's candles (and the lookback before it) are fetched from the configured
market data provider, as far as it has them (`marketdata.services.candles_fetch_between`:
the synthetic and ccxt providers produce any past candle, a csv file what it holds).
Candles still missing are reported, never bridged: the backtest ends PARTIAL, its
`message` says how many are missing and why, `missing_candles` lists their close times;
the walk goes from one stored candle to the next, exactly as live would see the database.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from executions import worker_guard
from executions.engine.sandbox_call import candles_payload, sandbox_limits, strategy_params
from executions.sandbox import run_strategy_series
from marketdata.candles import Bar, candle_closes_between, resolution_delta
from marketdata.providers import MarketDataError, get_provider
from marketdata.selectors import candles_between, candles_window
from marketdata.services import candles_fetch_between
from tradeplatform.formatting import iso_utc

from .metrics import ClosedTrade, backtest_metrics, metrics_summary, metrics_to_json
from .models import Backtest, BacktestTrade
from .simulation import BacktestSettings, Simulation

logger = logging.getLogger(__name__)

# Candles per sandbox execution: bounds the request and answer sizes and sets how often
# progress is saved.
CHUNK_CANDLES = 2000
EQUITY_CURVE_POINTS = 1000  # points stored; the metrics use every candle's equity
ERROR_EXAMPLES = 5
MAX_MISSING_LISTED = 1000


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


def missing_open_times(
    bars: Sequence[Bar], *, start: datetime, end: datetime, resolution: int
) -> list[datetime]:
    """Open times of the candles closing in [start, end] that are not among `bars`."""
    period = resolution_delta(resolution)
    stored = {bar.open_time for bar in bars}
    return [
        candle_close - period
        for candle_close in candle_closes_between(start, end, resolution)
        if candle_close - period not in stored
    ]


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
        self._fetch()
        replay = candles_between(
            symbol=backtest.symbol,
            resolution=backtest.resolution,
            first_open=backtest.start - self.period,
            last_open=backtest.end - self.period,
        )
        missing = missing_open_times(
            replay, start=backtest.start, end=backtest.end, resolution=backtest.resolution
        )
        backtest.missing_candles = [
            iso_utc(moment + self.period) for moment in missing[:MAX_MISSING_LISTED]
        ]
        backtest.missing_candles_count = len(missing)
        backtest.progress_total = len(replay)
        backtest.save(update_fields=["missing_candles", "missing_candles_count", "progress_total"])
        if not replay:
            raise BacktestFailed(
                f"no {backtest.symbol}:{backtest.resolution} candles close between "
                f"{iso_utc(backtest.start)} and {iso_utc(backtest.end)}: {self._why_missing()}"
            )
        # The lookback before the first close: the last stored candles, as live reads them.
        warmup = candles_window(
            symbol=backtest.symbol,
            resolution=backtest.resolution,
            candle_close=replay[0].open_time,
            count=self.lookback - 1,
        )
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

    def _fetch(self) -> None:
        """The candles of the period and its lookback from the provider, as far as it has
        them; a provider that cannot answer leaves the stored candles to replay."""
        backtest = self.backtest
        self.provider = get_provider()
        self.fetch_error = ""
        try:
            candles_fetch_between(
                symbol=backtest.symbol,
                resolution=backtest.resolution,
                first_close=backtest.start - self.period * (self.lookback - 1),
                last_close=backtest.end,
                provider=self.provider,
            )
        except MarketDataError as exc:
            logger.warning("backtest %s: market data fetch failed: %s", backtest.id, exc)
            self.fetch_error = str(exc)

    def _why_missing(self) -> str:
        provider = self.provider
        if self.fetch_error:
            return f"the {provider.name} market data provider failed: {self.fetch_error}"
        if hasattr(provider, "path_for"):  # csv: the file to complete
            path = provider.path_for(self.backtest.symbol, self.backtest.resolution)
            return f"the csv market data provider has no such candles in {path}"
        return f"the {provider.name} market data provider has no such candles"

    def _signals(
        self, bars: list[Bar], chunk_start: int, chunk_end: int, errors: dict[str, int]
    ) -> dict[int, dict]:
        """The raw signals of the candles chunk_start..chunk_end-1 that have a full
        lookback (live skips the others: "insufficient market data")."""
        first_signal = max(chunk_start, self.lookback - 1)
        if first_signal >= chunk_end:
            return {}
        low = first_signal - self.lookback + 1
        result = run_strategy_series(
            self.strategy.strategy_code,
            candles_payload(bars[low:chunk_end]),
            strategy_params(
                symbol=self.backtest.symbol,
                resolution=self.backtest.resolution,
                lookback=self.lookback,
                params=self.strategy.execution_config.get("params"),
            ),
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
            backtest.message = metrics_summary(
                metrics, symbol=backtest.symbol, resolution=backtest.resolution
            )
            backtest.status = Backtest.Status.COMPLETED
            if backtest.missing_candles_count:
                backtest.status = Backtest.Status.PARTIAL
                wanted = backtest.missing_candles_count + len(replay)
                backtest.message = (
                    f"Incomplete: {backtest.missing_candles_count:,} of {wanted:,} candles of "
                    f"the period are missing (the first closes at "
                    f"{backtest.missing_candles[0]}): {self._why_missing()}. The figures "
                    f"cover the {len(replay):,} candles there are. {backtest.message}"
                )
            backtest.completed_at = timezone.now()
            backtest.save(
                update_fields=["metrics", "equity_curve", "message", "status", "completed_at"]
            )


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
    return [[iso_utc(equity[index][0]), str(equity[index][1])] for index in sorted(keep)]
