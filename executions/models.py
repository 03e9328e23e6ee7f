import uuid

from django.db import models

from marketdata.candles import RESOLUTION_CHOICES
from marketdata.models import PRICE
from strategies.enums import ExecutionStatus
from strategies.models import Strategy
from subscriptions.enums import TradeStatus
from subscriptions.models import StrategySubscription

from .trading.enums import ExitReason, Side

QUANTITY = {"max_digits": 30, "decimal_places": 12}


class StrategyExecution(models.Model):
    """One run of a strategy for one candle close; unique per (strategy, close)."""

    Status = ExecutionStatus

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    strategy = models.ForeignKey(Strategy, on_delete=models.CASCADE, related_name="executions")
    symbol = models.CharField(max_length=30)
    resolution = models.PositiveIntegerField(choices=RESOLUTION_CHOICES)
    # The column keeps its first name; the wire calls it scheduledTime (ExecutionSerializer).
    candle_close = models.DateTimeField(
        db_column="scheduled_time", help_text="The candle close this run is for."
    )
    started_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    signal = models.JSONField(null=True, blank=True)
    subscribers_count = models.PositiveIntegerField(default=0)
    trades_created = models.PositiveIntegerField(default=0)
    error_message = models.TextField(blank=True, default="")
    execution_log = models.TextField(blank=True, default="")
    duration_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-candle_close"]
        constraints = [
            models.UniqueConstraint(
                fields=["strategy", "candle_close"], name="one_execution_per_strategy_close"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "started_at"]),
            models.Index(fields=["strategy", "-candle_close"]),
            models.Index(fields=["symbol", "resolution", "-candle_close"]),
        ]

    def __str__(self) -> str:
        return f"{self.strategy.code} @ {self.candle_close:%Y-%m-%d %H:%M} {self.status}"


class Trade(models.Model):
    """One subscriber's position opened by one execution; unique per (subscription, execution)."""

    Side = Side
    Status = TradeStatus
    ExitReason = ExitReason

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # No single-column index on subscription: the (subscription, …) indexes below serve
    # its lookups, and each index is one more write per trade.
    subscription = models.ForeignKey(
        StrategySubscription, on_delete=models.CASCADE, related_name="trades", db_index=False
    )
    execution = models.ForeignKey(
        StrategyExecution, on_delete=models.CASCADE, related_name="trades"
    )
    symbol = models.CharField(max_length=30)
    side = models.CharField(max_length=4, choices=Side.choices)
    quantity = models.DecimalField(**QUANTITY)
    entry_price = models.DecimalField(**PRICE)
    stop_loss = models.DecimalField(**PRICE)
    take_profit = models.DecimalField(**PRICE, null=True, blank=True)
    exit_price = models.DecimalField(**PRICE, null=True, blank=True)
    exit_reason = models.CharField(max_length=12, choices=ExitReason.choices, blank=True)
    status = models.CharField(max_length=6, choices=Status.choices, default=Status.OPEN)
    pnl = models.DecimalField(max_digits=24, decimal_places=8, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "execution"], name="one_trade_per_subscription_execution"
            ),
        ]
        # No (symbol, status) index: the engine finds a strategy's open trades through its
        # subscriptions; given that index, PostgreSQL would read every open trade of the
        # symbol (all strategies) when its statistics say open trades are few.
        indexes = [
            models.Index(fields=["subscription", "status"]),
            models.Index(fields=["subscription", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.side} {self.quantity} {self.symbol} @ {self.entry_price} ({self.status})"
