from django.contrib import admin

from .models import Candle, StrategyExecution, Trade


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
