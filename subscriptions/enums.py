"""The state of a subscription's position. The position (Trade) belongs to the executions
app; its status is defined here, one floor lower, so the subscriptions API and admin can
count open trades and chart closed ones without importing upward."""

from django.db.models import TextChoices


class TradeStatus(TextChoices):
    OPEN = "OPEN"
    CLOSED = "CLOSED"
