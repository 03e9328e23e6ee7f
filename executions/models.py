import uuid

from django.conf import settings
from django.db import models

from strategies.models import RESOLUTION_CHOICES, Strategy
from subscriptions.models import StrategySubscription

PRICE = {"max_digits": 24, "decimal_places": 8}
QUANTITY = {"max_digits": 30, "decimal_places": 12}


class Candle(models.Model):
    """One closed OHLCV bar; `open_time` is its start, its close is open_time + resolution."""

    symbol = models.CharField(max_length=30)
    resolution = models.PositiveIntegerField(choices=RESOLUTION_CHOICES)
    open_time = models.DateTimeField()
    open = models.DecimalField(**PRICE)
    high = models.DecimalField(**PRICE)
    low = models.DecimalField(**PRICE)
    close = models.DecimalField(**PRICE)
    volume = models.DecimalField(max_digits=30, decimal_places=8)

    class Meta:
        ordering = ["symbol", "resolution", "open_time"]
        constraints = [
            models.UniqueConstraint(
                fields=["symbol", "resolution", "open_time"], name="one_candle_per_bar"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.symbol}:{self.resolution} {self.open_time:%Y-%m-%d %H:%M}"


class StrategyExecution(models.Model):
    """One run of a strategy for one candle close; unique per (strategy, close)."""

    class Status(models.TextChoices):
        RUNNING = "RUNNING"
        COMPLETED = "COMPLETED"
        SKIPPED = "SKIPPED"
        FAILED = "FAILED"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    strategy = models.ForeignKey(Strategy, on_delete=models.CASCADE, related_name="executions")
    symbol = models.CharField(max_length=30)
    resolution = models.PositiveIntegerField(choices=RESOLUTION_CHOICES)
    scheduled_time = models.DateTimeField(help_text="The candle close this run is for.")
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
        ordering = ["-scheduled_time"]
        constraints = [
            models.UniqueConstraint(
                fields=["strategy", "scheduled_time"], name="one_execution_per_strategy_close"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "started_at"]),
            models.Index(fields=["strategy", "-scheduled_time"]),
            models.Index(fields=["symbol", "resolution", "-scheduled_time"]),
        ]

    def __str__(self) -> str:
        return f"{self.strategy.code} @ {self.scheduled_time:%Y-%m-%d %H:%M} {self.status}"


class Trade(models.Model):
    """One subscriber's position opened by one execution; unique per (subscription, execution)."""

    class Side(models.TextChoices):
        BUY = "BUY"
        SELL = "SELL"

    class Status(models.TextChoices):
        OPEN = "OPEN"
        CLOSED = "CLOSED"

    class ExitReason(models.TextChoices):
        STOP_LOSS = "STOP_LOSS"
        TAKE_PROFIT = "TAKE_PROFIT"
        SIGNAL = "SIGNAL"
        EXIT = "EXIT"

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


class Backtest(models.Model):
    """One replay of a strategy over stored candles with a user's capital and risk settings.

    Runs as a Celery task (`executions.run_backtest`); `progress_done`/`progress_total`
    count the candles walked. The trades it simulates are `BacktestTrade` rows, never
    `Trade` rows: nothing a backtest does reaches a subscription or a broker.
    """

    class Status(models.TextChoices):
        QUEUED = "QUEUED"
        RUNNING = "RUNNING"
        COMPLETED = "COMPLETED"
        FAILED = "FAILED"

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
    missing_candles = models.JSONField(default=list, blank=True)  # open times (ISO) missing
    missing_candles_count = models.PositiveIntegerField(default=0)
    error_message = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["strategy", "user", "-created_at"]),
            models.Index(fields=["status", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"backtest {self.strategy.code} {self.symbol}:{self.resolution} {self.status}"


class BacktestTrade(models.Model):
    """A simulated position of a backtest; every one is closed when the backtest ends."""

    class ExitReason(models.TextChoices):
        STOP_LOSS = "STOP_LOSS"
        TAKE_PROFIT = "TAKE_PROFIT"
        SIGNAL = "SIGNAL"
        EXIT = "EXIT"
        # Still open when the period ended: closed at the last candle's close.
        END = "END"

    backtest = models.ForeignKey(Backtest, on_delete=models.CASCADE, related_name="trades")
    side = models.CharField(max_length=4, choices=Trade.Side.choices)
    quantity = models.DecimalField(**QUANTITY)
    entry_time = models.DateTimeField(help_text="The candle close the position opened at.")
    entry_price = models.DecimalField(**PRICE)
    stop_loss = models.DecimalField(**PRICE)
    take_profit = models.DecimalField(**PRICE, null=True, blank=True)
    exit_time = models.DateTimeField(null=True, blank=True)
    exit_price = models.DecimalField(**PRICE, null=True, blank=True)
    exit_reason = models.CharField(max_length=12, choices=ExitReason.choices, blank=True)
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
        ordering = ["entry_time", "id"]
        indexes = [models.Index(fields=["backtest", "entry_time"])]

    def __str__(self) -> str:
        return f"{self.side} {self.quantity} @ {self.entry_price} ({self.exit_reason or 'open'})"
