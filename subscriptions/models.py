import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts.models import BrokerCredential
from strategies.models import Strategy

from .risk import DEFAULT_LEVERAGE, DEFAULT_MAX_DAILY_LOSS, DEFAULT_MAX_POSITIONS


class StrategySubscription(models.Model):
    """A user's capital and risk settings following one strategy."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # No single-column indexes on user and strategy: the (user, -subscribed_at) and
    # (strategy, is_active, is_paused) indexes below start with them and serve the same
    # lookups. Every index is one more write per counter update at each candle close.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="subscriptions",
        db_index=False,
    )
    strategy = models.ForeignKey(
        Strategy, on_delete=models.PROTECT, related_name="subscriptions", db_index=False
    )
    broker_credential = models.ForeignKey(
        BrokerCredential, on_delete=models.PROTECT, related_name="subscriptions"
    )
    capital = models.DecimalField(max_digits=24, decimal_places=8)
    risk_per_trade = models.DecimalField(max_digits=10, decimal_places=6)
    leverage = models.PositiveSmallIntegerField(default=DEFAULT_LEVERAGE)
    max_positions = models.PositiveIntegerField(default=DEFAULT_MAX_POSITIONS)
    max_daily_loss = models.DecimalField(
        max_digits=10, decimal_places=6, default=DEFAULT_MAX_DAILY_LOSS
    )
    sl_atr_multiplier = models.DecimalField(max_digits=10, decimal_places=4, null=True, blank=True)
    tp_atr_multiplier = models.DecimalField(max_digits=10, decimal_places=4, null=True, blank=True)
    is_active = models.BooleanField(default=True)
    is_paused = models.BooleanField(default=False)
    subscribed_at = models.DateTimeField(auto_now_add=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    # Why the platform paused it (a reconciliation difference, a refused credential);
    # empty when its owner paused it.
    pause_reason = models.TextField(blank=True, default="")
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    # Set at cancellation: the open trades follow the strategy (stops, targets, its exit
    # signals) instead of closing at the next candle close.
    keep_open_trades = models.BooleanField(default=False)
    total_trades = models.PositiveIntegerField(default=0)
    winning_trades = models.PositiveIntegerField(default=0)
    losing_trades = models.PositiveIntegerField(default=0)
    total_pnl = models.DecimalField(max_digits=24, decimal_places=8, default=Decimal("0"))

    class Meta:
        ordering = ["-subscribed_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "strategy"],
                condition=Q(is_active=True),
                name="one_active_subscription_per_user_strategy",
            ),
        ]
        indexes = [
            models.Index(fields=["strategy", "is_active", "is_paused"]),
            models.Index(fields=["user", "-subscribed_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.user} → {self.strategy.code}"
