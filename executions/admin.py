from django.contrib import admin
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from .backtest_metrics import metrics_rows
from .charts import equity_curve_svg
from .models import Backtest, BacktestTrade, Candle, StrategyExecution, Trade


@admin.register(Candle)
class CandleAdmin(admin.ModelAdmin):
    list_display = ["symbol", "resolution", "open_time", "open", "high", "low", "close", "volume"]
    list_filter = ["symbol", "resolution"]
    date_hierarchy = "open_time"


@admin.register(StrategyExecution)
class StrategyExecutionAdmin(admin.ModelAdmin):
    list_display = [
        "strategy",
        "symbol",
        "resolution",
        "scheduled_time",
        "status",
        "trades_created",
        "duration_ms",
    ]
    list_filter = ["status", "resolution", "scheduled_time"]
    search_fields = ["strategy__code", "symbol", "error_message"]
    list_select_related = ["strategy"]
    date_hierarchy = "scheduled_time"


@admin.register(Trade)
class TradeAdmin(admin.ModelAdmin):
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
    raw_id_fields = ["subscription", "execution"]
    date_hierarchy = "created_at"


class BacktestTradeInline(admin.TabularInline):
    model = BacktestTrade
    extra = 0
    can_delete = False
    max_num = 0
    fields = BacktestTrade.PUBLIC_FIELDS
    readonly_fields = fields


@admin.register(Backtest)
class BacktestAdmin(admin.ModelAdmin):
    """Read-only: a backtest is started from the API or `manage.py backtest`."""

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

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

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
        # Every text in the SVG is escaped by equity_curve_svg.
        return mark_safe(equity_curve_svg(backtest.equity_curve))  # noqa: S308
