"""A backtest and its simulated trades. The tables keep the names they had when backtests
belonged to the executions app."""

import uuid

from django.conf import settings
from django.db import models

from executions.models import QUANTITY
from executions.trading.enums import ExitReason, Side
from marketdata.candles import RESOLUTION_CHOICES
from marketdata.models import PRICE
from strategies.models import Strategy

from .simulation import END


class Backtest(models.Model):
    """One replay of a strategy over stored candles with a user's capital and risk settings.

    Runs as a Celery task (`executions.run_backtest`, the name it kept from before the
    backtests app); `progress_done`/`progress_total`
    count the candles walked. The trades it simulates are `BacktestTrade` rows, never
    `Trade` rows: nothing a backtest does reaches a subscription or a broker.
    """

    class Status(models.TextChoices):
        QUEUED = "QUEUED"
        RUNNING = "RUNNING"
        COMPLETED = "COMPLETED"
        # Done, but over an incomplete history: candles of the period are missing (the
        # provider could not supply them) and `message` says how many and why.
        PARTIAL = "PARTIAL"
        FAILED = "FAILED"

    DONE = (Status.COMPLETED, Status.PARTIAL)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    strategy = models.ForeignKey(Strategy, on_delete=models.CASCADE, related_name="backtests")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="backtests"
    )
    symbol = models.CharField(max_length=30)
    resolution = models.PositiveIntegerField(choices=RESOLUTION_CHOICES)
    start = models.DateTimeField(help_text="First candle close replayed.")
    end = models.DateTimeField(help_text="Last candle close replayed.")
    # The risk settings (capital, riskPerTrade, …, feeRate, slippage) as given, snake_case.
    params = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    metrics = models.JSONField(null=True, blank=True)
    equity_curve = models.JSONField(default=list, blank=True)  # [[iso time, equity], ...]
    # Close times (ISO 8601, Z) of the candles of the period that are missing, first 1,000.
    missing_candles = models.JSONField(default=list, blank=True)
    missing_candles_count = models.PositiveIntegerField(default=0)
    error_message = models.TextField(blank=True, default="")
    message = models.TextField(
        blank=True, default="", help_text="What the run says to its user: the summary."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "executions_backtest"
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["strategy", "user", "-created_at"]),
            models.Index(fields=["status", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"backtest {self.strategy.code} {self.symbol}:{self.resolution} {self.status}"


class BacktestTrade(models.Model):
    """A simulated position of a backtest; every one is closed when the backtest ends."""

    # The live exit reasons, plus END: still open when the period ended, closed at the last
    # candle's close.
    EXIT_REASONS = [*ExitReason.choices, (END, "End")]

    backtest = models.ForeignKey(Backtest, on_delete=models.CASCADE, related_name="trades")
    side = models.CharField(max_length=4, choices=Side.choices)
    quantity = models.DecimalField(**QUANTITY)
    entry_time = models.DateTimeField(help_text="The candle close the position opened at.")
    entry_price = models.DecimalField(**PRICE)
    stop_loss = models.DecimalField(**PRICE)
    take_profit = models.DecimalField(**PRICE, null=True, blank=True)
    exit_time = models.DateTimeField(null=True, blank=True)
    exit_price = models.DecimalField(**PRICE, null=True, blank=True)
    exit_reason = models.CharField(max_length=12, choices=EXIT_REASONS, blank=True)
    fee = models.DecimalField(
        max_digits=24, decimal_places=8, default=0, help_text="Entry plus exit fees."
    )
    pnl = models.DecimalField(
        max_digits=24, decimal_places=8, null=True, blank=True, help_text="Net of fees."
    )

    # What the API and the admin show of it.
    PUBLIC_FIELDS = (
        "side",
        "quantity",
        "entry_time",
        "entry_price",
        "stop_loss",
        "take_profit",
        "exit_time",
        "exit_price",
        "exit_reason",
        "fee",
        "pnl",
    )

    class Meta:
        db_table = "executions_backtesttrade"
        ordering = ["entry_time", "id"]
        indexes = [models.Index(fields=["backtest", "entry_time"])]

    def __str__(self) -> str:
        return f"{self.side} {self.quantity} @ {self.entry_price} ({self.exit_reason or 'open'})"
