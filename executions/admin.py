from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from tradeplatform.svg import line_chart

from .backtest_metrics import metrics_rows
from .models import Backtest, BacktestTrade, Candle, Order, StrategyExecution, Trade
from .positions import kill_switch, positions_flatten


@admin.register(Candle)
class CandleAdmin(admin.ModelAdmin):
    list_display = ["symbol", "resolution", "open_time", "open", "high", "low", "close", "volume"]
    list_filter = ["symbol", "resolution"]
    date_hierarchy = "open_time"


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
    "fees",
    "protected_on_exchange",
    "created_at",
    "closed_at",
]

ORDER_FIELDS = [
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


class _ReadOnlyAdmin(admin.ModelAdmin):
    """Written by the engine only; operators read it (and may delete it)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(StrategyExecution)
class StrategyExecutionAdmin(_ReadOnlyAdmin):
    list_display = [
        "scheduled_time",
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
        "scheduled_time",
    ]
    search_fields = ["strategy__code", "symbol", "error_message"]
    list_select_related = ["strategy"]
    date_hierarchy = "scheduled_time"
    fields = [
        "id",
        "strategy",
        "symbol",
        "resolution",
        "scheduled_time",
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


class OrderInline(admin.TabularInline):
    """A trade's exchange actions, as the exchange reported them."""

    model = Order
    fk_name = "trade"
    fields = ORDER_FIELDS
    readonly_fields = ORDER_FIELDS
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
class TradeAdmin(_ReadOnlyAdmin):
    """Trades with their orders; the flatten action, and the kill switch
    (/admin/executions/trade/kill-switch/: every subscription paused, every position
    closed at market, after a confirmation)."""

    actions = [flatten_trades]
    inlines = [OrderInline]
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
class OrderAdmin(_ReadOnlyAdmin):
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
    fields = ["id", "trade", "execution", "credential", *ORDER_FIELDS, "updated_at"]
    readonly_fields = fields
    date_hierarchy = "created_at"


class BacktestTradeInline(admin.TabularInline):
    model = BacktestTrade
    extra = 0
    can_delete = False
    max_num = 0
    fields = BacktestTrade.PUBLIC_FIELDS
    readonly_fields = fields


@admin.register(Backtest)
class BacktestAdmin(_ReadOnlyAdmin):
    """A backtest is started from the API or `manage.py backtest`; here it is read."""

    list_display = [
        "strategy",
        "user",
        "symbol",
        "resolution",
        "start",
        "end",
        "status",
        "progress_done",
        "progress_total",
        "total_return",
        "created_at",
    ]
    list_filter = ["status", "resolution"]
    search_fields = ["strategy__code", "user__email", "symbol"]
    list_select_related = ["strategy", "user"]
    date_hierarchy = "created_at"
    exclude = ["metrics", "equity_curve", "missing_candles"]
    readonly_fields = [
        "strategy",
        "user",
        "symbol",
        "resolution",
        "start",
        "end",
        "params",
        "status",
        "progress_done",
        "progress_total",
        "missing_candles_count",
        "first_missing_candles",
        "error_message",
        "created_at",
        "started_at",
        "completed_at",
        "metrics_table",
        "equity_chart",
    ]
    inlines = [BacktestTradeInline]

    @admin.display(description="total return")
    def total_return(self, backtest: Backtest):
        return (backtest.metrics or {}).get("total_return", "-")

    @admin.display(description="first missing candles (open times)")
    def first_missing_candles(self, backtest: Backtest):
        return ", ".join(backtest.missing_candles[:20]) or "-"

    @admin.display(description="metrics")
    def metrics_table(self, backtest: Backtest):
        if not backtest.metrics:
            return "-"
        rows = format_html_join(
            "", "<tr><th>{}</th><td>{}</td></tr>", metrics_rows(backtest.metrics)
        )
        return format_html("<table>{}</table>", rows)

    @admin.display(description="equity curve")
    def equity_chart(self, backtest: Backtest):
        points = [(moment[:16].replace("T", " "), value) for moment, value in backtest.equity_curve]
        capital = backtest.params.get("capital")
        # line_chart escapes every text it draws.
        return mark_safe(  # noqa: S308
            line_chart(
                points,
                title="Equity (dashed: the starting capital)",
                baseline=float(capital) if capital is not None else None,
                empty_message="No equity curve yet",
            )
        )
