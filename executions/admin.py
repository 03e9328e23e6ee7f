from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.formats import date_format
from django.utils.html import format_html

from strategies.enums import MISSED
from tradeplatform.admin_columns import amount_column, money_column
from tradeplatform.formatting import amount_text

from .models import Order, StrategyExecution, Trade
from .positions import kill_switch, positions_flatten
from .selectors import executions_missed

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
    "fees",
    "protected_on_exchange",
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
        "signal_shown",
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


class OrderInline(admin.TabularInline):
    """A trade's exchange actions, as the exchange reported them."""

    model = Order
    fk_name = "trade"
    fields = Order.RECORD_FIELDS
    readonly_fields = Order.RECORD_FIELDS
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.action(description="Flatten: close the selected open trades at market")
def flatten_trades(modeladmin, request, queryset):
    closed = positions_flatten(trades=queryset)
    modeladmin.message_user(request, f"{closed} position(s) closing.", messages.SUCCESS)


@admin.register(Trade)
class TradeAdmin(ReadOnlyAdmin):
    """Trades with their orders; the flatten action, and the kill switch
    (/admin/executions/trade/kill-switch/: every subscription paused, every position
    closed at market, after a confirmation)."""

    actions = [flatten_trades]
    inlines = [OrderInline]
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

    def get_urls(self):
        kill = path(
            "kill-switch/",
            self.admin_site.admin_view(self.kill_switch_view),
            name="executions_trade_kill_switch",
        )
        return [kill, *super().get_urls()]

    def kill_switch_view(self, request):
        if not request.user.is_superuser:
            self.message_user(request, "Only a superuser may pull the kill switch.", messages.ERROR)
            return HttpResponseRedirect(reverse("admin:executions_trade_changelist"))
        if request.method == "POST" and request.POST.get("confirm") == "FLATTEN EVERYTHING":
            paused, closed = kill_switch(operator=request.user.email)
            self.message_user(
                request,
                f"Kill switch: {paused} subscription(s) paused, {closed} position(s) closing.",
                messages.WARNING,
            )
            return HttpResponseRedirect(reverse("admin:executions_trade_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": "Kill switch",
            "open_trades": Trade.objects.filter(status=Trade.Status.OPEN).count(),
        }
        return TemplateResponse(request, "admin/executions/kill_switch.html", context)


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "purpose",
        "symbol",
        "side",
        "type",
        "quantity",
        "status",
        "filled_quantity",
        "average_price",
        "fee",
        "attempts",
        "credential",
    ]
    list_filter = ["status", "purpose", "type", "symbol"]
    search_fields = [
        "client_order_id",
        "exchange_order_id",
        "trade__subscription__user__email",
        "last_error",
    ]
    list_select_related = ["credential"]
    fields = ["id", "trade", "execution", "credential", *Order.RECORD_FIELDS, "updated_at"]
    readonly_fields = fields
    date_hierarchy = "created_at"
