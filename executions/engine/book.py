"""Every read and write of trades and subscriptions the engine makes, in one place.

The statements are hand-written SQL for PostgreSQL (the only database): the ORM's query
building cost more than running the queries at a candle close with many subscribers
(bench/RESULTS.md). Table and column names always come from the models' metadata, so a
renamed or added column is picked up (or fails loudly), never silently shifted:

- `subscription_rows`: every active subscription of a strategy with what eligibility and
  sizing need, in ONE statement, as plain dicts (10,000 model instances cost ~0.5 s);
- `open_trades_of_strategy`: a strategy's open trades on its symbol (optionally with the
  close they opened at, or locked FOR UPDATE);
- `trades_open` / `trades_insert`: new trades by COPY (~5x faster than bulk_create for
  10,000), with the subscriptions' trade counts (their ENTRY orders: `executions.orders`);
- `trades_close`: exits by one UPDATE … FROM unnest(arrays) that only touches rows still
  OPEN, with the subscriptions' win/loss/PnL figures.
"""

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from uuid import UUID, uuid4

from django.db import connection
from django.utils import timezone

from accounts.models import BrokerCredential
from executions.models import StrategyExecution, Trade
from subscriptions.models import StrategySubscription
from subscriptions.risk import RISK_FIELDS
from subscriptions.trade_stats import (
    subscription_stats_apply_closed_trades,
    subscription_stats_apply_opened,
)

_quote = connection.ops.quote_name

# -- subscriptions -----------------------------------------------------------------------

_SUBSCRIPTION_FIELDS = ("id", "is_active", "is_paused", *RISK_FIELDS, "broker_credential_id")
# The keys of a subscription row, in the SELECT's order.
_SUBSCRIPTION_ROW = (
    *_SUBSCRIPTION_FIELDS,
    "open_trade_count",
    "realised_pnl_today",
    "credential_active",
    "broker_name",
)


def _subscription_rows_sql() -> str:
    subscription = StrategySubscription._meta
    columns = ", ".join(
        f"s.{_quote(subscription.get_field(name).column)}" for name in _SUBSCRIPTION_FIELDS
    )
    trades = _quote(Trade._meta.db_table)
    # Never the credential's secret halves: they stay encrypted in the database.
    return f"""
        SELECT {columns},
            COALESCE((SELECT COUNT(*) FROM {trades} t
                      WHERE t.subscription_id = s.id AND t.status = %(open)s), 0),
            COALESCE((SELECT SUM(t.pnl) FROM {trades} t
                      WHERE t.subscription_id = s.id AND t.status = %(closed)s
                        AND t.closed_at >= %(day_start)s AND t.closed_at <= %(candle_close)s), 0),
            c.is_active, c.broker_name
        FROM {_quote(subscription.db_table)} s
        JOIN {_quote(BrokerCredential._meta.db_table)} c ON c.id = s.broker_credential_id
        WHERE s.strategy_id = %(strategy_id)s AND s.is_active
        ORDER BY s.id
    """  # noqa: S608 (names come from the models)


_SUBSCRIPTION_ROWS_SQL = _subscription_rows_sql()


def subscription_rows(*, strategy_id, candle_close: datetime) -> list[dict]:
    """Every active subscription (paused ones included) of the strategy, by id, with its
    open trades and its realised PnL of the UTC day of `candle_close` up to that close."""
    day_start = candle_close.replace(hour=0, minute=0, second=0, microsecond=0)
    with connection.cursor() as cursor:
        cursor.execute(
            _SUBSCRIPTION_ROWS_SQL,
            {
                "open": Trade.Status.OPEN.value,
                "closed": Trade.Status.CLOSED.value,
                "day_start": day_start,
                "candle_close": candle_close,
                "strategy_id": strategy_id,
            },
        )
        return [dict(zip(_SUBSCRIPTION_ROW, row, strict=True)) for row in cursor.fetchall()]


def subscribers_count(*, strategy_id) -> int:
    """Active subscriptions of the strategy, paused ones included."""
    return StrategySubscription.objects.filter(strategy_id=strategy_id, is_active=True).count()


# -- open trades -------------------------------------------------------------------------

# What closing an open trade reads of it.
_CLOSING_FIELDS = (
    "id", "subscription_id", "symbol", "side", "quantity", "entry_price", "stop_loss",
    "take_profit", "protected_on_exchange",
)  # fmt: skip
_OPEN_TRADES_SQL: dict[tuple, str] = {}


def _open_trades_sql(by_side: bool, opened_at: bool, for_update: bool, cancelled: bool) -> str:
    # Through the subscription (the same strategy as the trade's execution): the
    # strategy's subscriptions, then their OPEN trades by (subscription, status). Through
    # the execution, PostgreSQL read every OPEN trade of the symbol, or every execution
    # of the strategy, both of which grow with time and with the other strategies.
    trade = Trade._meta
    columns = ", ".join(f"t.{_quote(trade.get_field(name).column)}" for name in _CLOSING_FIELDS)
    sql = f"SELECT {columns}"
    if opened_at:
        sql += f", e.{_quote(StrategyExecution._meta.get_field('candle_close').column)}"
        sql += " AS opened_at"
    sql += (
        f" FROM {_quote(trade.db_table)} t"
        f" JOIN {_quote(StrategySubscription._meta.db_table)} s ON s.id = t.subscription_id"
    )
    if opened_at:
        sql += f" JOIN {_quote(StrategyExecution._meta.db_table)} e ON e.id = t.execution_id"
    sql += (
        " WHERE s.strategy_id = %(strategy_id)s AND t.symbol = %(symbol)s AND t.status = %(open)s"
    )
    if by_side:
        sql += " AND t.side = ANY(%(sides)s)"
    if cancelled:
        active = _quote(StrategySubscription._meta.get_field("is_active").column)
        keep = _quote(StrategySubscription._meta.get_field("keep_open_trades").column)
        sql += f" AND NOT s.{active} AND NOT s.{keep}"
    return sql + (" FOR UPDATE" if for_update else "")


def open_trades_of_strategy(
    *,
    strategy_id,
    symbol: str,
    sides: Iterable[str] | None = None,
    opened_at: bool = False,
    for_update: bool = False,
    cancelled: bool = False,
) -> list[Trade]:
    """The strategy's OPEN trades on `symbol` (of `sides` only, when given), with only the
    fields closing needs. `opened_at` adds `trade.opened_at`, the candle close the trade
    opened at; `for_update` locks them (and their subscriptions' rows); `cancelled` keeps
    only those of cancelled subscriptions that did not ask to keep them."""
    key = (sides is not None, opened_at, for_update, cancelled)
    sql = _OPEN_TRADES_SQL.get(key)
    if sql is None:
        sql = _OPEN_TRADES_SQL[key] = _open_trades_sql(*key)
    params = {
        "strategy_id": strategy_id,
        "symbol": symbol,
        "open": Trade.Status.OPEN.value,
        "sides": list(sides or ()),
    }
    return list(Trade.objects.raw(sql, params))


# -- new trades --------------------------------------------------------------------------

# What a new trade is made of: (subscription id, quantity, entry price, stop-loss, take-profit).
TradeEntry = tuple[UUID, Decimal, Decimal, Decimal, Decimal | None]


def trades_open(
    *, execution: StrategyExecution, side: str, entries: list[TradeEntry]
) -> list[UUID]:
    """Write the OPEN trades of one execution (one per subscription, all with the same
    `created_at`) and count one more trade for each subscription; answers their ids, in
    the order of `entries`."""
    if not entries:
        return []
    now = timezone.now()
    ids = [uuid4() for _ in entries]
    _trades_copy(
        {
            "id": trade_id,
            "subscription_id": subscription_id,
            "execution_id": execution.id,
            "symbol": execution.symbol,
            "side": side,
            "quantity": quantity,
            "entry_price": entry_price,
            "stop_loss": stop_loss,
            "take_profit": take_profit,
            "created_at": now,
        }
        for trade_id, (subscription_id, quantity, entry_price, stop_loss, take_profit) in zip(
            ids, entries, strict=True
        )
    )
    subscription_stats_apply_opened(subscription_ids=[entry[0] for entry in entries])
    return ids


def trades_insert(trades: list[Trade]) -> None:
    """Write Trade instances as they are (seeding, benchmarks), counters untouched."""
    fields = Trade._meta.concrete_fields
    # pre_save fills auto_now_add.
    _trades_copy(
        {field.attname: field.pre_save(trade, True) for field in fields} for trade in trades
    )


_TRADE_FIELDS = Trade._meta.concrete_fields
_TRADE_COLUMNS = ", ".join(_quote(field.column) for field in _TRADE_FIELDS)


def _trades_copy(rows: Iterable[dict]) -> None:
    """COPY rows given as {attname: value} into the trade table, every column named from
    the model; a field a row leaves out takes the model's default (a new id, OPEN, "",
    NULL), and a row with a key the model does not have is refused."""
    attnames = {field.attname for field in _TRADE_FIELDS}
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(
            f"COPY {_quote(Trade._meta.db_table)} ({_TRADE_COLUMNS}) FROM STDIN"
        ) as copy,
    ):
        for row in rows:
            unknown = row.keys() - attnames
            if unknown:
                raise ValueError(f"no such Trade field: {', '.join(sorted(unknown))}")
            # Values are plain str, UUID, Decimal, datetime or None, which COPY adapts exactly.
            copy.write_row(
                [
                    row[field.attname] if field.attname in row else field.get_default()
                    for field in _TRADE_FIELDS
                ]
            )


# -- closing -----------------------------------------------------------------------------


def trades_close(trades: list[Trade]) -> list[Trade]:
    """Store the exit of each trade (exit_price, exit_reason, pnl, closed_at, set by the
    caller) with one UPDATE that only touches rows still OPEN, then add the closed ones to
    their subscriptions' figures (one more UPDATE), inside the caller's transaction.
    Answers the trades it closed. (bulk_update's CASE WHEN takes ~25 s for 10,000 rows.)"""
    if not trades:
        return []
    trade = Trade._meta

    def column(name: str) -> str:
        return _quote(trade.get_field(name).column)

    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {_quote(trade.db_table)} AS trade
            SET {column("status")} = %s, {column("exit_price")} = v.exit_price,
                {column("exit_reason")} = v.exit_reason, {column("pnl")} = v.pnl,
                {column("closed_at")} = v.closed_at
            FROM unnest(%s::uuid[], %s::numeric[], %s::text[], %s::numeric[],
                        %s::timestamptz[]) AS v(id, exit_price, exit_reason, pnl, closed_at)
            WHERE trade.id = v.id AND trade.{column("status")} = %s
            RETURNING trade.id
            """,  # noqa: S608 (names come from the model)
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
        closed_ids = {row[0] for row in cursor.fetchall()}
    closed = [trade for trade in trades if trade.id in closed_ids]
    subscription_stats_apply_closed_trades(
        closed=[(trade.subscription_id, trade.pnl) for trade in closed]
    )
    return closed
