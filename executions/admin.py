from django.contrib import admin
from django.utils.formats import date_format
from django.utils.html import format_html

from tradeplatform.admin_columns import amount_column, money_column
from tradeplatform.formatting import amount_text

from .models import StrategyExecution, Trade

QUANTITY = amount_column("quantity")
ENTRY = amount_column("entry_price", "entry")
STOP_LOSS = amount_column("stop_loss", "stop-loss")
TAKE_PROFIT = amount_column("take_profit", "take-profit")
EXIT = amount_column("exit_price", "exit")
PNL = money_column("pnl", "PnL")
TRADE_FIELDS = [
    "subscription",
    "side",
    QUANTITY,
    ENTRY,
    STOP_LOSS,
    TAKE_PROFIT,
    "status",
    EXIT,
    "exit_reason",
    PNL,
    "created_at",
    "closed_at",
]


class TradeInline(admin.TabularInline):
    """The trades an execution opened: a record, not something to edit."""

    model = Trade
    fields = TRADE_FIELDS
    readonly_fields = TRADE_FIELDS
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("subscription__user")


class ReadOnlyAdmin(admin.ModelAdmin):
    """Written by the engine only: a record operators read, never add, change or delete
    (no Delete button, no bulk delete)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(StrategyExecution)
class StrategyExecutionAdmin(ReadOnlyAdmin):
    list_display = [
        "candle_close",
        "strategy_code",
        "status",
        "subscribers_count",
        "trades_created",
        "duration_ms",
    ]
    list_filter = [
        "status",
        ("strategy", admin.RelatedOnlyFieldListFilter),
        "resolution",
        "candle_close",
    ]
    search_fields = ["strategy__code", "symbol", "error_message"]
    list_select_related = ["strategy"]
    date_hierarchy = "candle_close"
    fields = [
        "id",
        "strategy",
        "symbol",
        "resolution",
        "candle_close",
        "status",
        "signal_shown",
        "subscribers_count",
        "trades_created",
        "error_message",
        "output",
        "started_at",
        "completed_at",
        "duration_ms",
    ]
    readonly_fields = fields
    inlines = [TradeInline]

    @admin.display(description="strategy", ordering="strategy__code")
    def strategy_code(self, obj: StrategyExecution) -> str:
        return f"{obj.strategy.code} ({obj.symbol}:{obj.resolution}m)"

    @admin.display(description="signal")
    def signal_shown(self, obj: StrategyExecution) -> str:
        """The strategy's answer, its numbers to at most 8 decimals (49505.869999999995
        reads 49505.87); the API gives it as returned."""
        if not obj.signal:
            return "-"
        if not isinstance(obj.signal, dict):
            return str(obj.signal)
        return ", ".join(
            f"{key}: {amount_text(value) if isinstance(value, float) else value}"
            for key, value in obj.signal.items()
        )

    @admin.display(description="strategy output")
    def output(self, obj: StrategyExecution) -> str | None:
        if not obj.execution_log:
            return None
        return format_html('<pre style="white-space: pre-wrap">{}</pre>', obj.execution_log)


@admin.register(Trade)
class TradeAdmin(ReadOnlyAdmin):
    list_display = [
        "opened",
        "user",
        "strategy",
        "side",
        QUANTITY,
        ENTRY,
        STOP_LOSS,
        TAKE_PROFIT,
        "status",
        "exit_reason",
        PNL,
    ]
    list_filter = ["status", "side", "exit_reason", "symbol"]
    search_fields = ["symbol", "subscription__user__email", "subscription__strategy__code"]
    list_select_related = ["subscription__user", "subscription__strategy"]
    fields = ["id", "execution", *TRADE_FIELDS]
    readonly_fields = fields
    date_hierarchy = "created_at"

    @admin.display(description="opened", ordering="created_at")
    def opened(self, trade: Trade) -> str:
        return date_format(trade.created_at, "SHORT_DATETIME_FORMAT")

    @admin.display(description="user", ordering="subscription__user__email")
    def user(self, trade: Trade) -> str:
        return trade.subscription.user.email

    @admin.display(description="strategy", ordering="subscription__strategy__code")
    def strategy(self, trade: Trade) -> str:
        return trade.subscription.strategy.code
