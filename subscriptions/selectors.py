"""Reads of subscriptions: a user sees only their own."""

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from strategies.enums import TradeStatus

from .models import StrategySubscription

NOT_FOUND = "Subscription not found"


def subscription_list_for_user(*, user) -> QuerySet[StrategySubscription]:
    """The user's subscriptions, the live ones (active or paused) first, each group newest
    first, with their strategy and their count of open trades in the same query. The count
    is a correlated subquery (the row's own trades through the reverse relation `trades`,
    by (subscription, status)), not a join of the outer query with GROUP BY: a page then
    reads only its own rows' open trades, however
    long the trade history grows, and the pagination count reads no trade at all."""
    open_trades = (
        StrategySubscription.objects.filter(pk=OuterRef("pk"), trades__status=TradeStatus.OPEN)
        .order_by()
        .values("pk")
        .annotate(count=Count("trades"))
        .values("count")
    )
    return (
        StrategySubscription.objects.filter(user=user)
        .select_related("strategy")
        .defer("strategy__strategy_code")
        .annotate(open_trades=Coalesce(Subquery(open_trades, output_field=IntegerField()), 0))
        .order_by("-is_active", "-subscribed_at", "-id")
    )


def subscription_stats(*, subscription: StrategySubscription) -> dict:
    wins, losses = subscription.winning_trades, subscription.losing_trades
    decided = wins + losses
    open_trades = getattr(subscription, "open_trades", None)
    if open_trades is None:
        open_trades = subscription.trades.filter(status=TradeStatus.OPEN).count()
    return {
        "total_trades": subscription.total_trades,
        "winning_trades": wins,
        "losing_trades": losses,
        "win_rate": wins / decided if decided else 0.0,
        "total_pnl": subscription.total_pnl,
        "open_trades": open_trades,
    }
