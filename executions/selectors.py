"""Reads of the executions app that the API needs: a user's orders."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet

from .models import Order


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
