from django.contrib import admin
from django.utils.html import format_html

from .models import StrategyExecution, Trade

TRADE_FIELDS = [
    "subscription",
    "side",
    "quantity",
    "entry_price",
    "stop_loss",
    "take_profit",
    "status",
    "exit_price",
    "exit_reason",
    "pnl",
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
    """Written by the engine only; operators read it (and may delete it)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
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
        "signal",
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

    @admin.display(description="strategy output")
    def output(self, obj: StrategyExecution) -> str | None:
        if not obj.execution_log:
            return None
        return format_html('<pre style="white-space: pre-wrap">{}</pre>', obj.execution_log)


@admin.register(Trade)
class TradeAdmin(ReadOnlyAdmin):
    list_display = [
        "symbol",
        "side",
        "quantity",
        "entry_price",
        "stop_loss",
        "take_profit",
        "status",
        "exit_reason",
        "pnl",
        "created_at",
    ]
    list_filter = ["status", "side", "exit_reason", "symbol"]
    search_fields = ["symbol", "subscription__user__email", "subscription__strategy__code"]
    list_select_related = ["subscription__user", "subscription__strategy"]
    fields = ["id", "execution", *TRADE_FIELDS]
    readonly_fields = fields
    date_hierarchy = "created_at"
