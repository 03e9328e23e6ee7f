"""The execution coordinator: one strategy, one candle close, exactly once.

`execution_run(strategy_id=…, close_time=…)` is what the Celery task and
`manage.py run_candle` call. In order:

1. Read the strategy's settings (Redis settings cache) for its candle.
2. Take the Redis lock `execution:{strategy}:{symbol}:{resolution}:{close}` (token-owned,
   non-blocking): not acquired → someone else runs it, return None.
3. Create the StrategyExecution row RUNNING in its own transaction. Its unique
   (strategy, scheduled_time) constraint is the fence: an IntegrityError is a duplicate
   delivery → return None. The lock only saves the duplicate the work of trying.
4. Close open trades whose stop-loss or take-profit a candle touched since they opened.
5. Load the last `lookbackPeriod` candles up to the close, run the strategy in the
   sandbox (it sees candles and its own execution config, nothing else), parse its signal.
6. EXIT closes the strategy's open trades; BUY/SELL first closes the opposite side, then
   opens one trade per eligible subscription, all subscriptions read in ONE query and the
   trades written with ONE bulk insert in the same transaction as the counters and the
   execution's completion.

`subscribers_count` is the number of active subscriptions (paused ones included) when the
signal was acted on; the execution log names, per reason, the subscriptions that got no
trade. "Today" for the daily loss limit is the UTC day of the candle close, so a replay
of an old close judges it by that day, not by the wall clock.

A missing strategy (deleted) gets no row, as there is nothing to attach it to: the run
is logged and ignored. An inactive one gets a SKIPPED row.

The row always ends COMPLETED, SKIPPED (reason) or FAILED (error): an unexpected exception
is caught, logged without secrets, and stored as FAILED. The number of SQL statements
depends on the number of strategies, not on the number of subscribers.
"""

from __future__ import annotations

import logging
import time
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Sequence
from contextlib import nullcontext
from datetime import datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, DecimalField, F, IntegerField, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django_redis import get_redis_connection
from redis.exceptions import LockError, RedisError

from accounts.models import BrokerCredential
from executions import trading, worker_guard
from executions.brokers import BrokerError, PaperBroker, get_broker
from executions.execution_log import execution_log_join
from executions.marketdata.selectors import candles_window
from executions.marketdata.services import candle_ensure
from executions.models import Candle, StrategyExecution, Trade
from executions.sandbox import SandboxLimits, run_strategy
from executions.signals import SignalError, parse_signal
from strategies.models import Strategy
from strategies.registry import registry_ensure_built, registry_strategy_ids
from strategies.settings_cache import strategy_settings_get
from subscriptions.models import StrategySubscription
from subscriptions.services import RISK_FIELDS
from subscriptions.trade_stats import (
    subscription_stats_apply_closed_trades,
    subscription_stats_apply_opened,
)

logger = logging.getLogger(__name__)

Status = StrategyExecution.Status
LOG_OUTPUT_LIMIT = 64 * 1024
NOTE_EXAMPLES = 10  # subscription ids named per reason in the execution log


class _Outcome(Exception):
    """Ends an execution early with a final status (SKIPPED or FAILED) and a message."""

    def __init__(self, status: str, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def candle_close_prepare(*, symbol: str, resolution: int, close_time: datetime) -> list[str]:
    """Before a candle close's runs: make sure the candle is stored and answer the ids of
    the strategies registered on it (sorted). A market data failure is logged, not
    raised: the runs still happen and SKIP with "market data missing", on the record."""
    try:
        candle_ensure(symbol=symbol, resolution=resolution, close_time=close_time)
    except Exception:
        logger.exception(
            "market data for %s:%s at %s could not be ensured", symbol, resolution, close_time
        )
    return sorted(registry_strategy_ids(symbol=symbol, resolution=resolution))


def candle_close_run(
    *, symbol: str, resolution: int, close_time: datetime
) -> list[tuple[str, StrategyExecution | None]]:
    """The whole candle close synchronously (`manage.py run_candle`): every registered
    strategy of the candle, one after the other; answers (strategy code, execution)."""
    registry_ensure_built()
    strategy_ids = candle_close_prepare(
        symbol=symbol.upper(), resolution=resolution, close_time=close_time
    )
    codes = dict(Strategy.objects.filter(id__in=strategy_ids).values_list("id", "code"))
    return [
        (
            codes.get(UUID(strategy_id), strategy_id),
            execution_run(strategy_id=strategy_id, close_time=close_time),
        )
        for strategy_id in strategy_ids
    ]


def execution_lock_key(*, strategy_id, symbol: str, resolution: int, close_time: datetime) -> str:
    return f"execution:{strategy_id}:{symbol}:{resolution}:{close_time.isoformat()}"


def sandbox_limits() -> SandboxLimits:
    return SandboxLimits(
        wall_seconds=settings.SANDBOX_WALL_SECONDS,
        cpu_seconds=settings.SANDBOX_CPU_SECONDS,
        memory_mb=settings.SANDBOX_MEMORY_MB,
    )


def execution_run(*, strategy_id, close_time: datetime) -> StrategyExecution | None:
    """Run one strategy for one candle close; None when another delivery owns it."""
    config = strategy_settings_get(strategy_id=strategy_id)
    if config is None:
        logger.warning("execution for unknown strategy %s at %s ignored", strategy_id, close_time)
        return None
    symbol, resolution = config["symbol"], int(config["resolution"])
    lock = get_redis_connection("default").lock(
        execution_lock_key(
            strategy_id=strategy_id, symbol=symbol, resolution=resolution, close_time=close_time
        ),
        timeout=settings.EXECUTION_LOCK_TIMEOUT,
    )
    if not lock.acquire(blocking=False):
        return None
    try:
        try:
            # In autocommit (a worker) the INSERT is its own transaction: no BEGIN and
            # COMMIT around it. Inside a caller's transaction, a savepoint keeps a
            # duplicate's IntegrityError from breaking that transaction.
            with transaction.atomic() if connection.in_atomic_block else nullcontext():
                execution = StrategyExecution.objects.create(
                    strategy_id=strategy_id,
                    symbol=symbol,
                    resolution=resolution,
                    scheduled_time=close_time,
                    status=Status.RUNNING,
                )
        except IntegrityError:
            return None  # a duplicate delivery: the row exists, its owner ran or runs it
        _Run(execution, config).run()
        return execution
    finally:
        try:
            lock.release()
        except LockError:
            # Expired and possibly taken by another delivery, which the row fenced off.
            logger.warning(
                "execution lock of %s at %s expired before release", strategy_id, close_time
            )
        except RedisError as exc:
            # Redis went away during the run. The execution is on the record in
            # PostgreSQL already; the lock expires by itself (EXECUTION_LOCK_TIMEOUT).
            logger.warning(
                "execution lock of %s at %s not released, Redis unavailable: %s",
                strategy_id,
                close_time,
                type(exc).__name__,
            )


class _Run:
    """The body of one execution; `run()` never lets an exception escape."""

    def __init__(self, execution: StrategyExecution, config: dict):
        self.execution = execution
        self.config = config
        self.started = time.monotonic()
        self.output = ""
        self.notes: list[str] = []
        self.close_time = execution.scheduled_time
        self.period = timedelta(minutes=execution.resolution)

    # -- lifecycle -------------------------------------------------------------------

    def run(self) -> None:
        try:
            self._execute()
        except _Outcome as outcome:
            self._finish(outcome.status, error=outcome.message)
        except Exception as exc:
            # The traceback names our code only; no credential is ever loaded here.
            logger.exception(
                "execution %s of strategy %s failed unexpectedly",
                self.execution.id,
                self.execution.strategy_id,
            )
            self._finish(Status.FAILED, error=f"internal error: {type(exc).__name__}: {exc}")

    def _finish(self, status: str, *, error: str = "", **fields) -> None:
        if "subscribers_count" not in fields:
            # A FAILED or SKIPPED run names the subscriptions it would have served, too.
            fields["subscribers_count"] = self._subscribers_count()
        execution = self.execution
        execution.status = status
        execution.error_message = error[:4000]
        execution.execution_log = self._log()
        execution.completed_at = timezone.now()
        execution.duration_ms = int((time.monotonic() - self.started) * 1000)
        for name, value in fields.items():
            setattr(execution, name, value)
        execution.save(
            update_fields=[
                "status",
                "error_message",
                "execution_log",
                "completed_at",
                "duration_ms",
                "signal",
                *fields,
            ]
        )

    def _log(self) -> str:
        output = self.output
        if len(output) > LOG_OUTPUT_LIMIT:
            output = output[:LOG_OUTPUT_LIMIT] + "\n… [output truncated]"
        return execution_log_join(output, self.notes)

    # -- the flow --------------------------------------------------------------------

    def _execute(self) -> None:
        config = self.config
        failures = worker_guard.confinement_failures()
        if failures:
            raise _Outcome(Status.FAILED, "sandbox confinement failed: " + "; ".join(failures))
        if not config.get("isActive"):
            raise _Outcome(Status.SKIPPED, "strategy is not active")

        self._close_touched_trades()

        lookback = int(config["lookbackPeriod"])
        candles = candles_window(
            symbol=config["symbol"],
            resolution=int(config["resolution"]),
            close_time=self.close_time,
            count=lookback,
        )
        if len(candles) < lookback:
            raise _Outcome(
                Status.SKIPPED,
                f"insufficient market data (have {len(candles)}, need {lookback})",
            )
        if candles[-1].open_time + self.period != self.close_time:
            raise _Outcome(Status.SKIPPED, "no candle for this close yet (market data missing)")

        result = run_strategy(
            config["strategyCode"],
            candles_payload(candles),
            {
                "symbol": config["symbol"],
                "resolution": int(config["resolution"]),
                "lookbackPeriod": lookback,
                "params": config.get("params") or {},
            },
            limits=sandbox_limits(),
            backend=settings.SANDBOX_BACKEND,
        )
        self.output = result.output or ""
        # Kept on the row whatever follows: an invalid signal is easier to fix when seen.
        self.execution.signal = result.signal
        if not result.ok:
            raise _Outcome(Status.FAILED, result.error or "strategy failed")
        try:
            signal = parse_signal(result.signal, last_close=candles[-1].close)
        except SignalError as exc:
            raise _Outcome(Status.FAILED, f"invalid signal: {exc}") from exc

        with transaction.atomic():
            closes = trading.closes_for_signal(signal.action)
            if closes is not None:
                self._close_on_signal(
                    sides=closes.sides, price=signal.entry_price, reason=closes.reason
                )
            if signal.action in (trading.BUY, trading.SELL):
                subscribers, created = self._open_trades(signal, candles)
            else:  # HOLD, EXIT
                subscribers, created = self._subscribers_count(), 0
            self._finish(
                Status.COMPLETED,
                subscribers_count=subscribers,
                trades_created=created,
            )

    # -- closing ---------------------------------------------------------------------

    def _open_trades_of_strategy(self, *, sides: Iterable[str] | None = None):
        # Through the subscription (the same strategy as the trade's execution): the
        # strategy's subscriptions, then their OPEN trades by (subscription, status). Through
        # the execution, PostgreSQL read every OPEN trade of the symbol, or every execution
        # of the strategy, both of which grow with time and with the other strategies.
        trades = Trade.objects.filter(
            subscription__strategy_id=self.execution.strategy_id,
            symbol=self.execution.symbol,
            status=Trade.Status.OPEN,
        )
        if sides is not None:
            trades = trades.filter(side__in=list(sides))
        return trades.only(*_CLOSING_FIELDS).order_by()

    def _open_trades_postgres(
        self, *, sides: Iterable[str] | None = None, opened_close=False, for_update=False
    ) -> list[Trade]:
        """`_open_trades_of_strategy` (with the opening close annotated, or locked like
        select_for_update, which locks the joined subscription rows too) as hand-written
        SQL: building the ORM query twice per run cost more than running it."""
        key = (sides is not None, opened_close, for_update)
        sql = _OPEN_TRADES_SQL.get(key)
        if sql is None:
            sql = _OPEN_TRADES_SQL[key] = _open_trades_sql(*key)
        params = {
            "strategy_id": self.execution.strategy_id,
            "symbol": self.execution.symbol,
            "open": Trade.Status.OPEN.value,
            "sides": list(sides or ()),
        }
        return list(Trade.objects.raw(sql, params))

    def _close_touched_trades(self) -> None:
        """Stop-loss / take-profit fills of open trades, candle by candle since each opened."""
        if connection.vendor == "postgresql":
            trades = self._open_trades_postgres(opened_close=True)
        else:
            trades = list(
                self._open_trades_of_strategy().annotate(
                    opened_close=F("execution__scheduled_time")
                )
            )
        if not trades:
            return
        earliest = min(trade.opened_close for trade in trades)
        # A trade opened at close T is first exposed to the candle that opens at T.
        candles = list(
            Candle.objects.filter(
                symbol=self.execution.symbol,
                resolution=self.execution.resolution,
                open_time__gte=earliest,
                open_time__lte=self.close_time - self.period,
            ).order_by("open_time")
        )
        opens = [candle.open_time for candle in candles]
        closed = []
        for trade in trades:
            position = trading.Position(
                side=trade.side,
                entry_price=trade.entry_price,
                stop_loss=trade.stop_loss,
                take_profit=trade.take_profit,
            )
            for candle in candles[bisect_left(opens, trade.opened_close) :]:
                fill = trading.exit_for_candle(position, candle)
                if fill is not None:
                    price, reason = fill
                    _mark_closed(trade, price, reason, candle.open_time + self.period)
                    closed.append(trade)
                    break
        if closed:
            with transaction.atomic():
                closed = _save_closed(closed)
            stops = sum(1 for trade in closed if trade.exit_reason == Trade.ExitReason.STOP_LOSS)
            self.notes.append(
                f"closed {len(closed)} trade(s): {stops} at stop-loss, "
                f"{len(closed) - stops} at take-profit"
            )

    def _close_on_signal(self, *, sides: Iterable[str] | None, price: Decimal, reason: str) -> None:
        if connection.vendor == "postgresql":
            closed = self._open_trades_postgres(sides=sides, for_update=True)
        else:
            closed = list(self._open_trades_of_strategy(sides=sides).select_for_update())
        for trade in closed:
            _mark_closed(trade, price, reason, self.close_time)
        closed = _save_closed(closed)
        if closed:
            self.notes.append(f"closed {len(closed)} trade(s) on {reason} at {price}")

    # -- opening ---------------------------------------------------------------------

    def _subscribers_count(self) -> int:
        return StrategySubscription.objects.filter(
            strategy_id=self.execution.strategy_id, is_active=True
        ).count()

    def _subscriptions(self) -> list[dict]:
        """Every active subscription of the strategy with what eligibility and sizing need,
        in ONE query, as plain rows (no model instances: 10,000 of them cost ~0.5 s)."""
        day_start = self.close_time.replace(hour=0, minute=0, second=0, microsecond=0)
        if connection.vendor == "postgresql":
            return _subscription_rows_postgres(
                strategy_id=self.execution.strategy_id,
                day_start=day_start,
                close_time=self.close_time,
            )
        open_count = (
            Trade.objects.filter(subscription=OuterRef("pk"), status=Trade.Status.OPEN)
            .order_by()
            .values("subscription")
            .annotate(count=Count("id"))
            .values("count")
        )
        pnl_today = (
            Trade.objects.filter(
                subscription=OuterRef("pk"),
                status=Trade.Status.CLOSED,
                closed_at__gte=day_start,
                closed_at__lte=self.close_time,
            )
            .order_by()
            .values("subscription")
            .annotate(total=Sum("pnl"))
            .values("total")
        )
        money = DecimalField(max_digits=24, decimal_places=8)
        return list(
            StrategySubscription.objects.filter(
                strategy_id=self.execution.strategy_id, is_active=True
            )
            .annotate(
                open_trade_count=Coalesce(
                    Subquery(open_count, output_field=IntegerField()), Value(0)
                ),
                realised_pnl_today=Coalesce(
                    Subquery(pnl_today, output_field=money), Value(Decimal(0)), output_field=money
                ),
            )
            .order_by("id")
            # Never the credential's secret halves: they stay encrypted in the database.
            .values(
                *_SUBSCRIPTION_FIELDS,
                "open_trade_count",
                "realised_pnl_today",
                credential_active=F("broker_credential__is_active"),
                broker_name=F("broker_credential__broker_name"),
            )
        )

    def _open_trades(self, signal, candles) -> tuple[int, int]:
        side = signal.action
        atr: Decimal | None = None
        atr_done = False
        reasons: dict[str, list[str]] = defaultdict(list)
        trades: list[tuple] = []
        subscriptions = self._subscriptions()
        for row in subscriptions:
            reason = trading.ineligibility_reason(
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
            needs_atr = trading.needs_atr(
                signal_stop_loss=signal.stop_loss, signal_take_profit=signal.take_profit
            )
            if needs_atr and not atr_done:
                atr, atr_done = trading.average_true_range(candles), True
            entry = trading.entry_for_signal(
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
            quantity = entry.quantity
            try:
                fill = _broker_for(row).place_entry_order(
                    symbol=self.execution.symbol,
                    side=side,
                    quantity=quantity,
                    price=signal.entry_price,
                )
            except BrokerError as exc:
                reasons[f"broker refused the order ({exc})"].append(str(row["id"]))
                continue
            trades.append(
                (row["id"], fill.quantity, fill.price, entry.stop_loss, entry.take_profit)
            )
        trades_open(execution=self.execution, side=side, entries=trades)
        if trades:
            # The trades just written, one per subscription.
            subscription_stats_apply_opened(subscription_ids=[entry[0] for entry in trades])
        for reason, ids in sorted(reasons.items()):
            named = ", ".join(ids[:NOTE_EXAMPLES]) + (" …" if len(ids) > NOTE_EXAMPLES else "")
            self.notes.append(f"no trade for {len(ids)} subscription(s), {reason}: {named}")
        self.notes.append(f"opened {len(trades)} {side} trade(s) at {signal.entry_price}")
        return len(subscriptions), len(trades)


_SUBSCRIPTION_FIELDS = ("id", "is_active", "is_paused", *RISK_FIELDS, "broker_credential_id")
_SUBSCRIPTION_ROW = (
    *_SUBSCRIPTION_FIELDS,
    "open_trade_count",
    "realised_pnl_today",
    "credential_active",
    "broker_name",
)


def _subscription_rows_sql() -> str:
    quote = connection.ops.quote_name
    subscription = StrategySubscription._meta
    columns = ", ".join(
        f"s.{quote(subscription.get_field(name).column)}" for name in _SUBSCRIPTION_FIELDS
    )
    trades = quote(Trade._meta.db_table)
    return f"""
        SELECT {columns},
            COALESCE((SELECT COUNT(*) FROM {trades} t
                      WHERE t.subscription_id = s.id AND t.status = %(open)s), 0),
            COALESCE((SELECT SUM(t.pnl) FROM {trades} t
                      WHERE t.subscription_id = s.id AND t.status = %(closed)s
                        AND t.closed_at >= %(day_start)s AND t.closed_at <= %(close_time)s), 0),
            c.is_active, c.broker_name
        FROM {quote(subscription.db_table)} s
        JOIN {quote(BrokerCredential._meta.db_table)} c ON c.id = s.broker_credential_id
        WHERE s.strategy_id = %(strategy_id)s AND s.is_active
        ORDER BY s.id
    """  # noqa: S608 (names come from the models)


def _subscription_rows_postgres(*, strategy_id, day_start: datetime, close_time: datetime):
    """`_Run._subscriptions` as one hand-written statement: the same rows as the ORM
    query (used on other databases), without its ~4 ms of query building per run, which
    was a quarter of a 10-subscriber execution (bench/RESULTS.md)."""
    global _SUBSCRIPTION_ROWS_SQL
    if _SUBSCRIPTION_ROWS_SQL is None:
        _SUBSCRIPTION_ROWS_SQL = _subscription_rows_sql()
    with connection.cursor() as cursor:
        cursor.execute(
            _SUBSCRIPTION_ROWS_SQL,
            {
                "open": Trade.Status.OPEN.value,
                "closed": Trade.Status.CLOSED.value,
                "day_start": day_start,
                "close_time": close_time,
                "strategy_id": strategy_id,
            },
        )
        return [dict(zip(_SUBSCRIPTION_ROW, row, strict=True)) for row in cursor.fetchall()]


_SUBSCRIPTION_ROWS_SQL: str | None = None
_OPEN_TRADES_SQL: dict[tuple, str] = {}
# What closing an open trade reads of it.
_CLOSING_FIELDS = (
    "id", "subscription_id", "side", "quantity", "entry_price", "stop_loss", "take_profit"
)  # fmt: skip


def _open_trades_sql(by_side: bool, opened_close: bool, for_update: bool) -> str:
    quote = connection.ops.quote_name
    trade = Trade._meta
    columns = ", ".join(f"t.{quote(trade.get_field(name).column)}" for name in _CLOSING_FIELDS)
    sql = f"SELECT {columns}"
    if opened_close:
        sql += ", e.scheduled_time AS opened_close"
    sql += (
        f" FROM {quote(trade.db_table)} t"
        f" JOIN {quote(StrategySubscription._meta.db_table)} s ON s.id = t.subscription_id"
    )
    if opened_close:
        sql += f" JOIN {quote(StrategyExecution._meta.db_table)} e ON e.id = t.execution_id"
    sql += (
        " WHERE s.strategy_id = %(strategy_id)s AND t.symbol = %(symbol)s AND t.status = %(open)s"
    )
    if by_side:
        sql += " AND t.side = ANY(%(sides)s)"
    return sql + (" FOR UPDATE" if for_update else "")


def trades_insert(trades: list[Trade]) -> None:
    """Write new trades in one statement. On PostgreSQL a COPY: for 10,000 trades it is
    ~5x faster than bulk_create's INSERT, which spends its time preparing 150,000 values
    one by one. Elsewhere (SQLite) an ordinary bulk_create."""
    if not trades:
        return
    if connection.vendor != "postgresql":
        Trade.objects.bulk_create(trades)
        return
    fields = Trade._meta.concrete_fields
    # pre_save fills auto_now_add; every other value is a plain str, UUID, Decimal,
    # datetime or None, which COPY adapts exactly.
    _trades_copy(
        [field.column for field in fields],
        ([field.pre_save(trade, True) for field in fields] for trade in trades),
    )


# What a new trade is made of: (subscription id, quantity, entry price, stop-loss, take-profit).
TradeEntry = tuple[UUID, Decimal, Decimal, Decimal, Decimal | None]


def trades_open(*, execution: StrategyExecution, side: str, entries: list[TradeEntry]) -> None:
    """Write the OPEN trades of one execution. On PostgreSQL the rows go to COPY as they
    are, without a Trade instance each (for 10,000 trades those cost ~0.3 s); elsewhere
    through `trades_insert`. All trades of a call share one `created_at`."""
    if not entries or connection.vendor != "postgresql":
        trades_insert(
            [
                Trade(
                    subscription_id=subscription_id,
                    execution_id=execution.id,
                    symbol=execution.symbol,
                    side=side,
                    quantity=quantity,
                    entry_price=entry_price,
                    stop_loss=stop_loss,
                    take_profit=take_profit,
                )
                for subscription_id, quantity, entry_price, stop_loss, take_profit in entries
            ]
        )
        return
    now = timezone.now()
    _trades_copy(
        _OPEN_TRADE_COLUMNS,
        (
            (
                uuid4(),
                subscription_id,
                execution.id,
                execution.symbol,
                side,
                quantity,
                entry_price,
                stop_loss,
                take_profit,
                Trade.Status.OPEN.value,
                "",
                now,
            )
            for subscription_id, quantity, entry_price, stop_loss, take_profit in entries
        ),
    )


# The columns trades_open writes, in its rows' order; exit price, PnL and close time stay NULL.
_OPEN_TRADE_FIELDS = "id subscription execution symbol side quantity entry_price stop_loss"
_OPEN_TRADE_COLUMNS = [
    Trade._meta.get_field(name).column
    for name in f"{_OPEN_TRADE_FIELDS} take_profit status exit_reason created_at".split()
]


def _trades_copy(columns: list[str], rows: Iterable) -> None:
    quote = connection.ops.quote_name
    table = quote(Trade._meta.db_table)
    names = ", ".join(quote(column) for column in columns)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)


_PAPER_BROKER = PaperBroker()


def _broker_for(row: dict):
    """The subscriber's broker. Paper needs no credential; a real exchange loads (and
    decrypts) that one credential, the only place the engine ever touches a secret."""
    if (row["broker_name"] or "").strip().lower() == BrokerCredential.PAPER:
        return _PAPER_BROKER
    return get_broker(BrokerCredential.objects.get(id=row["broker_credential_id"]))


def _mark_closed(trade: Trade, price: Decimal, reason: str, closed_at: datetime) -> None:
    trade.exit_price = price
    trade.exit_reason = reason
    trade.status = Trade.Status.CLOSED
    trade.pnl = trading.pnl(trade.side, trade.quantity, trade.entry_price, price)
    trade.closed_at = closed_at


def _save_closed(trades: list[Trade]) -> list[Trade]:
    """Write closed trades and their subscriptions' counters (inside the caller's
    transaction), in two statements whatever their number. Only trades still OPEN in the
    database are closed (and counted); answers those."""
    trades = trades_close(trades)
    subscription_stats_apply_closed_trades(
        closed=[(trade.subscription_id, trade.pnl) for trade in trades]
    )
    return trades


_CLOSE_FIELDS = ["exit_price", "exit_reason", "status", "pnl", "closed_at"]


def trades_close(trades: list[Trade]) -> list[Trade]:
    """Store the exit of each trade (exit_price, exit_reason, pnl, closed_at set in Python
    by `trading`) with one UPDATE that only touches rows still OPEN.

    PostgreSQL: UPDATE … FROM unnest(arrays), one statement with five array parameters
    (bulk_update's CASE WHEN takes ~25 s for 10,000 rows). Elsewhere: bulk_update."""
    if not trades:
        return []
    if connection.vendor != "postgresql":
        still_open = set(
            Trade.objects.filter(
                id__in=[trade.id for trade in trades], status=Trade.Status.OPEN
            ).values_list("id", flat=True)
        )
        trades = [trade for trade in trades if trade.id in still_open]
        Trade.objects.bulk_update(trades, _CLOSE_FIELDS, batch_size=500)
        return trades
    table = connection.ops.quote_name(Trade._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {table} AS trade
            SET status = %s, exit_price = v.exit_price, exit_reason = v.exit_reason,
                pnl = v.pnl, closed_at = v.closed_at
            FROM unnest(%s::uuid[], %s::numeric[], %s::text[], %s::numeric[],
                        %s::timestamptz[]) AS v(id, exit_price, exit_reason, pnl, closed_at)
            WHERE trade.id = v.id AND trade.status = %s
            RETURNING trade.id
            """,  # noqa: S608 (the table name comes from the model)
            [
                Trade.Status.CLOSED,
                [trade.id for trade in trades],
                [trade.exit_price for trade in trades],
                [trade.exit_reason for trade in trades],
                [trade.pnl for trade in trades],
                [trade.closed_at for trade in trades],
                Trade.Status.OPEN,
            ],
        )
        closed = {row[0] for row in cursor.fetchall()}
    return [trade for trade in trades if trade.id in closed]


def candles_payload(candles: Sequence) -> dict[str, list]:
    """The candles as the sandbox takes them: columns, oldest first, plain JSON numbers."""
    return {
        "time": [candle.open_time.isoformat() for candle in candles],
        "open": [float(candle.open) for candle in candles],
        "high": [float(candle.high) for candle in candles],
        "low": [float(candle.low) for candle in candles],
        "close": [float(candle.close) for candle in candles],
        "volume": [float(candle.volume) for candle in candles],
    }
