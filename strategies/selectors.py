"""Reads of strategies: who may see which."""

from django.db.models import Q, QuerySet

from tradeplatform.api import ApplicationError

from .enums import TradeStatus
from .models import Strategy

NOT_FOUND = "Strategy not found"


def strategy_visible_to(*, user) -> QuerySet[Strategy]:
    """Anyone sees the public active strategies; a signed-in user also sees their own
    (active or not); staff see everything."""
    queryset = Strategy.objects.all()
    if user is not None and user.is_authenticated:
        if user.is_staff:
            return queryset
        return queryset.filter(Q(is_active=True, is_public=True) | Q(user=user))
    return queryset.filter(is_active=True, is_public=True)


def strategy_owned_by(*, user) -> QuerySet[Strategy]:
    return Strategy.objects.filter(user=user)


def strategy_can_read_source(*, user, strategy: Strategy) -> bool:
    return bool(
        user is not None
        and user.is_authenticated
        and (user.is_staff or strategy.user_id == user.pk)
    )


def strategy_get_for_subscription(*, user, strategy_id) -> Strategy:
    """An active strategy the user may subscribe to, locked for the subscriber count;
    a missing, inactive or someone else's private strategy is not found."""
    strategy = (
        Strategy.objects.select_for_update()
        .filter(Q(is_public=True) | Q(user=user), id=strategy_id, is_active=True)
        .first()
    )
    if strategy is None:
        raise ApplicationError(NOT_FOUND, status_code=404)
    return strategy


def strategy_open_trade_count(*, strategy_id) -> int:
    """Open trades of the strategy's subscriptions, active or cancelled."""
    return Strategy.objects.filter(
        id=strategy_id, subscriptions__trades__status=TradeStatus.OPEN
    ).count()


def strategy_runnable() -> QuerySet[Strategy]:
    """The strategies the engine runs at their candle's closes: active, with an active
    subscription to trade for, or with open trades to settle (those of a cancelled
    subscription close at the next close, or follow the strategy when kept)."""
    return Strategy.objects.filter(is_active=True).filter(
        Q(subscriptions__is_active=True) | Q(subscriptions__trades__status=TradeStatus.OPEN)
    )
