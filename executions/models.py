import uuid

from django.db import models

from marketdata.candles import RESOLUTION_CHOICES
from marketdata.models import PRICE
from strategies.enums import ExecutionStatus, TradeStatus
from strategies.models import Strategy
from subscriptions.models import StrategySubscription
from tradeplatform.formatting import amount_text

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
    # The run that owns the row while it is RUNNING (engine.fence): only it may end it.
    run_token = models.UUIDField(null=True, blank=True, editable=False)
    # Past this moment the close may no longer trade (set by the tick; None: no limit).
    deadline = models.DateTimeField(null=True, blank=True)
    # When the close's trading step committed (engine.ordering): closes apply in order.
    applied_at = models.DateTimeField(null=True, blank=True)

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
    status = models.CharField(max_length=9, choices=Status.choices, default=Status.OPEN)
    # Net of fees; with live or paper orders, from the fills (executions.orders).
    pnl = models.DecimalField(max_digits=24, decimal_places=8, null=True, blank=True)
    fees = models.DecimalField(max_digits=24, decimal_places=8, default=0)
    # Its stop-loss and take-profit rest on the exchange (reduce-only orders), which
    # closes it; otherwise the engine watches them on the candles.
    protected_on_exchange = models.BooleanField(default=False)
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
        quantity, price = amount_text(self.quantity), amount_text(self.entry_price)
        return f"{self.side} {quantity} {self.symbol} @ {price} ({self.status})"


class Order(models.Model):
    """One exchange action of a trade: its entry, its protective stop-loss and
    take-profit, or its exit. Written NEW (in the candle-close transaction for entries),
    sent by the orders worker after commit, and kept equal to what the exchange says.

    Status: NEW (never sent) → SUBMITTED (sent, or possibly sent: the exchange is asked
    by client order id before anything is sent again) → PARTIALLY_FILLED → FILLED, or
    CANCELLED / REJECTED / EXPIRED. The client order id is derived from the row's id, so
    every attempt for the row carries the same one.
    """

    class Purpose(models.TextChoices):
        ENTRY = "ENTRY"
        STOP_LOSS = "STOP_LOSS"
        TAKE_PROFIT = "TAKE_PROFIT"
        EXIT = "EXIT"

    class Type(models.TextChoices):
        MARKET = "MARKET"
        STOP_MARKET = "STOP_MARKET"
        TAKE_PROFIT_MARKET = "TAKE_PROFIT_MARKET"

    class Status(models.TextChoices):
        NEW = "NEW"
        SUBMITTED = "SUBMITTED"
        PARTIALLY_FILLED = "PARTIALLY_FILLED"
        FILLED = "FILLED"
        CANCELLED = "CANCELLED"
        REJECTED = "REJECTED"
        EXPIRED = "EXPIRED"

    ACTIVE = (Status.NEW, Status.SUBMITTED, Status.PARTIALLY_FILLED)
    FINAL = (Status.FILLED, Status.CANCELLED, Status.REJECTED, Status.EXPIRED)
    # What an order records of its life, in reading order: the API (OrderSerializer) and
    # the admin show these, each with the identifying columns its page needs around them.
    RECORD_FIELDS = (
        "purpose",
        "side",
        "type",
        "reduce_only",
        "quantity",
        "price",
        "trigger_price",
        "status",
        "filled_quantity",
        "average_price",
        "fee",
        "exchange_order_id",
        "client_order_id",
        "attempts",
        "last_error",
        "created_at",
        "submitted_at",
        "filled_at",
    )

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    trade = models.ForeignKey(Trade, on_delete=models.CASCADE, related_name="orders")
    # The execution that decided it (None: the platform's own: a flatten, a cancel).
    execution = models.ForeignKey(
        StrategyExecution, on_delete=models.SET_NULL, null=True, blank=True, related_name="orders"
    )
    credential = models.ForeignKey(
        "accounts.BrokerCredential", on_delete=models.PROTECT, related_name="orders"
    )
    purpose = models.CharField(max_length=11, choices=Purpose.choices)
    symbol = models.CharField(max_length=30)
    side = models.CharField(max_length=4, choices=Side.choices)
    type = models.CharField(max_length=18, choices=Type.choices, default=Type.MARKET)
    reduce_only = models.BooleanField(default=False)
    quantity = models.DecimalField(**QUANTITY)
    # The platform's price when it decided (a paper market order fills at it).
    price = models.DecimalField(**PRICE, null=True, blank=True)
    trigger_price = models.DecimalField(**PRICE, null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NEW)
    filled_quantity = models.DecimalField(**QUANTITY, default=0)
    average_price = models.DecimalField(**PRICE, null=True, blank=True)
    fee = models.DecimalField(max_digits=24, decimal_places=8, default=0)
    exchange_order_id = models.CharField(max_length=64, blank=True)
    client_order_id = models.CharField(max_length=36, unique=True, editable=False)
    attempts = models.PositiveSmallIntegerField(default=0)  # times sent
    # Lookups since the last send that found no such order on the exchange.
    missed_lookups = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    filled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["trade", "purpose"]),
            models.Index(fields=["credential", "status"]),
            models.Index(fields=["status", "created_at"]),
        ]

    def __str__(self) -> str:
        quantity = amount_text(self.quantity)
        return f"{self.purpose} {self.side} {quantity} {self.symbol} ({self.status})"

    def save(self, *args, **kwargs):
        if not self.client_order_id:
            self.client_order_id = client_order_id(self.id)
        super().save(*args, **kwargs)


def client_order_id(order_id) -> str:
    """The client order id of an order row: "tp" + its UUID's 32 hex digits (34 characters,
    within Binance's 36 and its alphabet)."""
    return f"tp{order_id.hex}"
