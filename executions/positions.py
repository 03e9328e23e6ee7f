"""Closing positions on the platform's own initiative: a cancelled subscription (unless
its owner keeps the positions), an operator's flatten of a subscription or a user, and
the kill switch (everything flattened, every subscription paused).

Each open trade gets a reduce-only market order through the orders worker
(`orders.trades_close_request`), priced for the paper exchange at the symbol's latest
stored close.
"""

import logging

from django.db import transaction
from django.utils import timezone

from executions.models import Trade
from executions.orders import orders_enqueue, trades_close_request
from marketdata.models import Candle
from subscriptions.models import StrategySubscription

logger = logging.getLogger(__name__)


def latest_close(symbol: str):
    candle = Candle.objects.filter(symbol=symbol).order_by("-open_time").only("close").first()
    return candle.close if candle is not None else None


@transaction.atomic
def positions_flatten(*, trades, reason: str = Trade.ExitReason.FLATTEN) -> int:
    """Close these open trades (a queryset) at market; answers how many were closed."""
    open_trades = list(trades.filter(status=Trade.Status.OPEN).select_for_update(of=("self",)))
    prices = {symbol: latest_close(symbol) for symbol in {trade.symbol for trade in open_trades}}
    order_ids = trades_close_request(
        trades=open_trades,
        reason=reason,
        prices={trade.id: prices[trade.symbol] for trade in open_trades},
    )
    orders_enqueue(order_ids)
    return len(open_trades)


def kill_switch(*, operator: str) -> tuple[int, int]:
    """Pause every active subscription and flatten every open position of the platform.
    Answers (subscriptions paused, positions closed)."""
    with transaction.atomic():
        paused = StrategySubscription.objects.filter(is_active=True, is_paused=False).update(
            is_paused=True,
            paused_at=timezone.now(),
            pause_reason=f"kill switch by {operator}: every position flattened",
        )
        closed = positions_flatten(trades=Trade.objects.all())
    logger.warning("kill switch by %s: %d paused, %d positions closed", operator, paused, closed)
    return paused, closed


def on_positions_flatten_requested(
    sender, *, subscription_ids=None, user_ids=None, everything=False, **kwargs
) -> None:
    """Receiver of accounts.signals.positions_flatten_requested."""
    trades = Trade.objects.all()
    if not everything:
        trades = trades.none()
        if subscription_ids:
            trades |= Trade.objects.filter(subscription_id__in=list(subscription_ids))
        if user_ids:
            trades |= Trade.objects.filter(subscription__user_id__in=list(user_ids))
    positions_flatten(trades=trades)
