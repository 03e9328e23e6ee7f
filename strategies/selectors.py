"""Reads of strategies: who may see which."""

from django.db.models import Q, QuerySet

from tradeplatform.api import ApplicationError

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
