from django.contrib import admin, messages
from django.utils.html import format_html

from strategies.enums import MISSED

from .models import StrategyExecution, Trade
from .selectors import executions_missed

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


class MissedFilter(admin.SimpleListFilter):
    title = "missed"
    parameter_name = "missed"

    def lookups(self, request, model_admin):
        return [("hour", "Missed in the last hour"), ("all", "Missed, any time")]

    def queryset(self, request, queryset):
        if self.value() == "hour":
            return queryset.filter(id__in=executions_missed().values("id"))
        if self.value() == "all":
            return queryset.filter(
                status=StrategyExecution.Status.SKIPPED, error_message__startswith=f"{MISSED}:"
            )
        return queryset


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
        MissedFilter,
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
        "deadline",
        "applied_at",
        "completed_at",
        "duration_ms",
    ]
    readonly_fields = fields
    inlines = [TradeInline]

    def changelist_view(self, request, extra_context=None):
        missed = executions_missed().count()
        if missed:
            self.message_user(
                request,
                f"{missed} candle close(s) missed in the last hour (no run traded them by "
                "their deadline): filter by “missed” to see which.",
                messages.WARNING,
            )
        return super().changelist_view(request, extra_context)

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
