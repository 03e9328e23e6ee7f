"""Reads of the executions app that the health check, the admin and the API need."""

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.utils import timezone

from strategies.enums import MISSED

from .models import Order, StrategyExecution

MISSED_WINDOW = timedelta(hours=1)


def executions_missed(*, since: datetime | None = None) -> QuerySet[StrategyExecution]:
    """Closes that were missed (SKIPPED "missed: …": no run traded them by their
    deadline), settled since `since` (default: the last hour)."""
    since = timezone.now() - MISSED_WINDOW if since is None else since
    return StrategyExecution.objects.filter(
        status=StrategyExecution.Status.SKIPPED,
        error_message__startswith=f"{MISSED}:",
        completed_at__gte=since,
    )


def orders_of_user(*, user, trade_id=None, subscription_id=None) -> QuerySet[Order]:
    """The user's own orders (through their subscriptions), optionally of one trade or
    one subscription; a malformed id narrows to nothing."""
    orders = Order.objects.filter(trade__subscription__user=user)
    try:
        if trade_id:
            orders = orders.filter(trade_id=trade_id)
        if subscription_id:
            orders = orders.filter(trade__subscription_id=subscription_id)
    except DjangoValidationError:
        return Order.objects.none()
    return orders
