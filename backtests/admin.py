from django.contrib import admin
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from executions.admin import ReadOnlyAdmin
from tradeplatform.formatting import money_text

from .charts import backtest_equity_svg
from .metrics import metrics_rows
from .models import Backtest, BacktestTrade


class BacktestTradeInline(admin.TabularInline):
    model = BacktestTrade
    extra = 0
    can_delete = False
    max_num = 0
    fields = BacktestTrade.PUBLIC_FIELDS
    readonly_fields = fields


@admin.register(Backtest)
class BacktestAdmin(ReadOnlyAdmin):
    """A backtest is started from the API or `manage.py backtest`; here it is read."""

    list_display = [
        "created",
        "strategy_code",
        "user",
        "candle",
        "period",
        "status",
        "progress",
        "total_return",
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
        "message",
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
    def total_return(self, backtest: Backtest) -> str:
        return money_text((backtest.metrics or {}).get("total_return"))

    @admin.display(description="created", ordering="created_at")
    def created(self, backtest: Backtest) -> str:
        return date_format(backtest.created_at, "SHORT_DATETIME_FORMAT")

    @admin.display(description="strategy", ordering="strategy__code")
    def strategy_code(self, backtest: Backtest) -> str:
        return backtest.strategy.code

    @admin.display(description="candle", ordering="symbol")
    def candle(self, backtest: Backtest) -> str:
        return f"{backtest.symbol}:{backtest.resolution}m"

    @admin.display(description="period (closes)", ordering="start")
    def period(self, backtest: Backtest) -> str:
        return (
            f"{date_format(backtest.start, 'SHORT_DATETIME_FORMAT')} to "
            f"{date_format(backtest.end, 'SHORT_DATETIME_FORMAT')}"
        )

    @admin.display(description="candles walked")
    def progress(self, backtest: Backtest) -> str:
        return f"{backtest.progress_done:,}/{backtest.progress_total:,}"

    @admin.display(description="first missing candles (close times)")
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
        return mark_safe(backtest_equity_svg(backtest))  # noqa: S308 - the chart escapes its texts
