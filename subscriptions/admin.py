from django.contrib import admin

from .models import StrategySubscription


@admin.register(StrategySubscription)
class StrategySubscriptionAdmin(admin.ModelAdmin):
    list_display = [
        "user",
        "strategy",
        "capital",
        "risk_per_trade",
        "leverage",
        "is_active",
        "is_paused",
        "total_trades",
        "total_pnl",
        "subscribed_at",
    ]
    list_filter = ["is_active", "is_paused", "subscribed_at"]
    search_fields = ["user__email", "strategy__code", "strategy__name"]
    list_select_related = ["user", "strategy"]
    readonly_fields = [
        "id",
        "subscribed_at",
        "total_trades",
        "winning_trades",
        "losing_trades",
        "total_pnl",
    ]
    raw_id_fields = ["user", "strategy", "broker_credential"]
