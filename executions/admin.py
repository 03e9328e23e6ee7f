from django.contrib import admin
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from tradeplatform.svg import line_chart

from .backtest_metrics import metrics_rows
from .models import Backtest, BacktestTrade, Candle, StrategyExecution, Trade


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


@admin.register(Trade)
class TradeAdmin(_ReadOnlyAdmin):
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
