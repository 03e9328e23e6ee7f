"""Reads behind the SPA's pages: positions, orders, P&L, equity curves, catalogue metrics.

Every read is scoped to its user and takes a fixed number of queries, however many rows.
Percentages (win rates, ROI, P&L %) are rounded once, here, to 2 places; money keeps the
precision of its column (PnL: `rules.pnl`, 8 places).

Orders: the SPA's order history is the order records (`executions.Order`), a row per
exchange action (ENTRY, STOP_LOSS, TAKE_PROFIT, EXIT) with its status, fills and fee;
`orders_for_user` and `order_row` are the only places that shape them.
"""

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import TruncDate, TruncMonth
from django.utils import timezone

from accounts.models import BrokerCredential
from backtests.metrics import max_drawdown
from backtests.models import Backtest, BacktestTrade
from executions.models import Order, Trade
from executions.selectors import orders_of_user
from executions.trading import rules
from marketdata.models import Candle
from strategies.models import Strategy
from subscriptions.models import StrategySubscription

PERCENT_STEP = Decimal("0.01")
ZERO = Decimal(0)
# The strategy page lists the latest backtest's trades; a long backtest keeps its newest.
BACKTEST_TRADES_SHOWN = 1000


def percent(part, whole) -> Decimal:
    """`part` as a percentage of `whole`, to 2 places; 0 when `whole` is 0."""
    if not whole:
        return ZERO
    return (Decimal(part) * 100 / Decimal(whole)).quantize(PERCENT_STEP, ROUND_HALF_EVEN)


def credential_newest_active(*, user, credential_id=None) -> BrokerCredential | None:
    """The account the SPA shows: the user's newest active credential, or the one of
    theirs `credential_id` names (nothing decrypted)."""
    credentials = BrokerCredential.objects.filter(user=user, is_active=True)
    if credential_id is not None:
        credentials = credentials.filter(id=credential_id)
    return (
        credentials.defer("api_key_sealed", "api_secret_sealed")
        .order_by("-created_at", "-id")
        .first()
    )


# --- trades: positions, orders, P&L ----------------------------------------------------------


def _latest_close() -> Subquery:
    """The platform's current price of a trade's market: the close of the newest stored
    candle of its symbol at the resolution it was opened on (one index probe per row)."""
    return Subquery(
        Candle.objects.filter(
            symbol=OuterRef("symbol"), resolution=OuterRef("execution__resolution")
        )
        .order_by("-open_time")
        .values("close")[:1]
    )


def _with_strategy(queryset: QuerySet[Trade]) -> QuerySet[Trade]:
    return queryset.select_related("subscription__strategy").defer(
        "subscription__strategy__strategy_code"
    )


def trades_open_for_user(*, user) -> QuerySet[Trade]:
    """The user's open trades (their positions), newest first, each with `current_price`."""
    return _with_strategy(
        Trade.objects.filter(subscription__user=user, status=Trade.Status.OPEN)
    ).annotate(current_price=_latest_close())


def trade_current_price(*, trade: Trade) -> Decimal | None:
    return (
        Trade.objects.filter(id=trade.id)
        .annotate(current_price=_latest_close())
        .values_list("current_price", flat=True)
        .first()
    )


def position_row(trade: Trade, *, now: datetime) -> dict:
    """An open trade as the SPA's position (LONG/SHORT, unrealized P&L at the current
    price; the entry price while the market has no stored candle)."""
    price = trade.current_price if trade.current_price is not None else trade.entry_price
    unrealized = rules.pnl(trade.side, trade.quantity, trade.entry_price, price)
    notional = trade.quantity * trade.entry_price
    subscription = trade.subscription
    return {
        "id": trade.id,
        "deployment_id": subscription.id,
        "subscription_id": subscription.id,
        "strategy_id": subscription.strategy_id,
        "strategy_name": subscription.strategy.name,
        "strategy_code": subscription.strategy.code,
        "instrument": trade.symbol,
        "side": "LONG" if trade.side == Trade.Side.BUY else "SHORT",
        "size": trade.quantity,
        "entry_price": trade.entry_price,
        "current_price": price,
        "unrealized_pnl": unrealized,
        "unrealized_pnl_pct": percent(unrealized, notional),
        "leverage": subscription.leverage,
        "margin_used": (notional / subscription.leverage).quantize(
            rules.MONEY_STEP, ROUND_HALF_EVEN
        ),
        "open_time": trade.created_at,
        "last_update": now,
        "stop_loss": trade.stop_loss,
        "take_profit": trade.take_profit,
    }


def positions_for_user(*, user) -> list[dict]:
    now = timezone.now()
    trades = trades_open_for_user(user=user).order_by("-created_at", "-id")
    return [position_row(trade, now=now) for trade in trades]


# The SPA's order tabs: OPEN while the exchange may still act on the order, CLOSED once
# it is final (its `orderStatus` says how).
ORDER_STATUSES = {"open": Order.ACTIVE, "closed": Order.FINAL}


def _closing_order() -> Subquery:
    """The order that closed its trade: the last to fill of its non-entry orders."""
    return Subquery(
        Order.objects.filter(trade=OuterRef("trade"), filled_quantity__gt=0)
        .exclude(purpose=Order.Purpose.ENTRY)
        .order_by("-filled_at", "-updated_at", "-id")
        .values("id")[:1]
    )


def orders_for_user(*, user, status: str = "", symbol: str = "") -> QuerySet[Order]:
    """The user's order records (`executions.Order`: a row per exchange action of their
    trades), newest first; `status` open|closed (else: all). Each carries
    `closing_order_id` (its trade's closing order), in the same query."""
    queryset = (
        orders_of_user(user=user)
        .select_related("trade__subscription__strategy")
        .defer("trade__subscription__strategy__strategy_code")
        .annotate(closing_order_id=_closing_order())
    )
    if status.lower() in ORDER_STATUSES:
        queryset = queryset.filter(status__in=ORDER_STATUSES[status.lower()])
    if symbol:
        queryset = queryset.filter(symbol=symbol.replace("/", "").upper())
    return queryset.order_by("-created_at", "-id")


def order_row(order: Order) -> dict:
    """An order record as the SPA's order row. `price`: the average fill price once it
    has fills, else the platform's price or the trigger. The trade's exit price, reason
    and PnL are on the order that closed it (once per trade: they sum)."""
    trade = order.trade
    strategy = trade.subscription.strategy
    closed_it = trade.status == Trade.Status.CLOSED and order.id == order.closing_order_id
    return {
        "id": order.id,
        "trade_id": trade.id,
        "deployment_id": trade.subscription_id,
        "subscription_id": trade.subscription_id,
        "strategy_id": strategy.id,
        "strategy_name": strategy.name,
        "strategy_code": strategy.code,
        "instrument": order.symbol,
        "purpose": order.purpose,
        "type": order.type,
        "side": order.side,
        "reduce_only": order.reduce_only,
        "amount": order.quantity,
        "price": order.average_price or order.price or order.trigger_price,
        "average_price": order.average_price,
        "trigger_price": order.trigger_price,
        "filled": order.filled_quantity,
        "status": "OPEN" if order.status in Order.ACTIVE else "CLOSED",
        "order_status": order.status,
        "last_error": order.last_error or None,
        "created_at": order.created_at,
        "updated_at": order.updated_at,
        "filled_at": order.filled_at,
        "fees": order.fee,
        "exit_price": trade.exit_price if closed_it else None,
        "exit_reason": (trade.exit_reason or None) if closed_it else None,
        "pnl": trade.pnl if closed_it else None,
        "pnl_percentage": (
            percent(trade.pnl, trade.quantity * trade.entry_price)
            if closed_it and trade.pnl is not None
            else None
        ),
    }


def pnl_for_user(*, user, days: int) -> dict:
    """Realized P&L of the trades closed in the last `days` days (UTC), by day and by
    strategy; unrealized P&L of the open positions at the current price."""
    today = timezone.now().astimezone(UTC).date()
    first_day = today - timedelta(days=days - 1)
    since = datetime.combine(first_day, datetime.min.time(), tzinfo=UTC)
    closed = Trade.objects.filter(
        subscription__user=user, status=Trade.Status.CLOSED, closed_at__gte=since
    )
    by_day = dict(
        closed.annotate(day=TruncDate("closed_at", tzinfo=UTC))
        .values("day")
        .annotate(pnl=Sum("pnl"))
        .order_by()
        .values_list("day", "pnl")
    )
    by_strategy = list(
        closed.values(
            "subscription__strategy_id",
            "subscription__strategy__name",
            "subscription__strategy__code",
        )
        .annotate(trades=Count("id"), wins=Count("id", filter=Q(pnl__gt=0)), realized=Sum("pnl"))
        .order_by("subscription__strategy__name", "subscription__strategy_id")
    )
    running = set(
        StrategySubscription.objects.filter(user=user, is_active=True, is_paused=False).values_list(
            "strategy_id", flat=True
        )
    )
    positions = positions_for_user(user=user)
    daily, cumulative = [], ZERO
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        cumulative += by_day.get(day, ZERO)
        daily.append({"date": day, "pnl": by_day.get(day, ZERO), "cumulative_pnl": cumulative})
    realized = sum((row["realized"] for row in by_strategy), ZERO)
    unrealized = sum((position["unrealized_pnl"] for position in positions), ZERO)
    trades = sum(row["trades"] for row in by_strategy)
    wins = sum(row["wins"] for row in by_strategy)
    return {
        "summary": {
            "total_realized_pnl": realized,
            "total_unrealized_pnl": unrealized,
            "total_pnl": realized + unrealized,
            "total_trades": trades,
            "win_rate": percent(wins, trades),
            "active_strategies": len(running),
            "open_positions": len(positions),
        },
        "daily_pnl": daily,
        "strategy_performance": [
            {
                "strategy_id": row["subscription__strategy_id"],
                "strategy_name": row["subscription__strategy__name"],
                "strategy_code": row["subscription__strategy__code"],
                "realized_pnl": row["realized"],
                "trades": row["trades"],
                "win_rate": percent(row["wins"], row["trades"]),
                "is_active": row["subscription__strategy_id"] in running,
            }
            for row in by_strategy
        ],
    }


# --- subscriptions: equity curves and live stats ----------------------------------------------


def subscriptions_equity(*, subscriptions: list[StrategySubscription]) -> dict:
    """For each subscription (by id): its closed trades' P&L by UTC day (`equity_curve`:
    date, daily and cumulative P&L), their figures (`stats`) and its open positions.
    Three queries for any number of subscriptions. A trade's PnL is net of its fees
    (summed from its order fills): the net P&L is the curve's, the gross adds the fees
    back. The drawdown is the largest fall of capital + cumulative net P&L from a peak."""
    ids = [subscription.id for subscription in subscriptions]
    days = defaultdict(list)
    rows = (
        Trade.objects.filter(subscription_id__in=ids, status=Trade.Status.CLOSED)
        .annotate(day=TruncDate("closed_at", tzinfo=UTC))
        .values("subscription_id", "day")
        .annotate(
            day_pnl=Sum("pnl"),
            day_fees=Sum("fees"),
            trades=Count("id"),
            wins=Count("id", filter=Q(pnl__gt=0)),
            losses=Count("id", filter=Q(pnl__lt=0)),
        )
        .order_by("subscription_id", "day")
    )
    for row in rows:
        days[row["subscription_id"]].append(row)
    open_counts = dict(
        Trade.objects.filter(subscription_id__in=ids, status=Trade.Status.OPEN)
        .values("subscription_id")
        .annotate(count=Count("id"))
        .order_by()
        .values_list("subscription_id", "count")
    )
    answer = {}
    for subscription in subscriptions:
        curve, cumulative, equity = [], ZERO, [(None, subscription.capital)]
        for row in days[subscription.id]:
            cumulative += row["day_pnl"]
            curve.append(
                {"date": row["day"], "daily_pnl": row["day_pnl"], "cumulative_pnl": cumulative}
            )
            equity.append((row["day"], subscription.capital + cumulative))
        drawdown = max_drawdown(equity)
        fees = sum((row["day_fees"] for row in days[subscription.id]), ZERO)
        trades = sum(row["trades"] for row in days[subscription.id])
        wins = sum(row["wins"] for row in days[subscription.id])
        decided = wins + sum(row["losses"] for row in days[subscription.id])
        answer[subscription.id] = {
            "equity_curve": curve,
            "open_positions": open_counts.get(subscription.id, 0),
            "stats": {
                "gross_pnl": cumulative + fees,
                "net_pnl": cumulative,
                "total_fees": fees,
                "total_trades": trades,
                "win_rate": percent(wins, decided),
                "maxDD": drawdown.amount,  # as the SPA spells it (the renderer keeps it)
                "max_drawdown_pct": drawdown.pct,
            },
        }
    return answer


# --- the catalogue ------------------------------------------------------------------------------


def _authors_latest_backtest() -> QuerySet[Backtest]:
    """The strategy's author's completed backtests, newest first: the newest is the
    strategy's published track record (subscribers' own backtests do not count)."""
    return Backtest.objects.filter(
        strategy=OuterRef("pk"), user=OuterRef("user"), status=Backtest.Status.COMPLETED
    ).order_by("-created_at")


def strategies_with_track_record(queryset: QuerySet[Strategy]) -> QuerySet[Strategy]:
    """Each strategy with `track_record`: the metrics of its author's latest completed
    backtest (None without one), in the same query."""
    return queryset.annotate(
        track_record=Subquery(_authors_latest_backtest().values("metrics")[:1])
    )


def subscribed_strategy_ids(*, user, strategy_ids) -> set:
    if not (user and user.is_authenticated):
        return set()
    return set(
        StrategySubscription.objects.filter(
            user=user, is_active=True, strategy_id__in=list(strategy_ids)
        ).values_list("strategy_id", flat=True)
    )


def latest_backtest(*, strategy: Strategy) -> Backtest | None:
    return (
        Backtest.objects.filter(
            strategy=strategy, user_id=strategy.user_id, status=Backtest.Status.COMPLETED
        )
        .order_by("-created_at")
        .first()
    )


def backtest_trades_shown(*, backtest: Backtest) -> list[BacktestTrade]:
    """The newest BACKTEST_TRADES_SHOWN trades, in the order they opened."""
    newest = list(backtest.trades.order_by("-entry_time", "-id")[:BACKTEST_TRADES_SHOWN])
    newest.reverse()
    return newest


def backtest_monthly_pnl(*, backtest: Backtest) -> dict[str, Decimal]:
    """Net P&L by the month (UTC) its trades closed in, `YYYY-MM`: all trades, in SQL."""
    rows = (
        backtest.trades.exclude(exit_time=None)
        .annotate(month=TruncMonth("exit_time", tzinfo=UTC))
        .values("month")
        .annotate(pnl=Sum("pnl"))
        .order_by("month")
    )
    return {f"{row['month']:%Y-%m}": row["pnl"] or ZERO for row in rows}
