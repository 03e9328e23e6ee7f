"""Operators' view of subscriptions.

The equity curve reads the subscription's closed trades through the reverse relation
`StrategySubscription.trades` (declared by the executions app): this module never imports
a downstream app."""

from django.contrib import admin
from django.utils.safestring import mark_safe

from tradeplatform.svg import line_chart

from .models import StrategySubscription

CLOSED = "CLOSED"  # executions.models.Trade.Status.CLOSED


def equity_curve(subscription: StrategySubscription) -> list[tuple[str, object]]:
    """(label, equity) points: the capital at subscription, then capital plus the
    cumulative realised PnL after each closed trade, in closing order."""
    equity = subscription.capital
    points = [(f"start {subscription.subscribed_at:%Y-%m-%d %H:%M}", equity)]
    closed = (
        subscription.trades.filter(status=CLOSED, pnl__isnull=False)
        .order_by("closed_at", "created_at")
        .values_list("closed_at", "pnl")
    )
    for closed_at, pnl in closed:
        equity += pnl
        label = f"{closed_at:%Y-%m-%d %H:%M}" if closed_at else "closed"
        points.append((label, equity))
    return points


class StateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("active", "Active"), ("paused", "Paused"), ("cancelled", "Cancelled")]

    def queryset(self, request, queryset):
        match self.value():
            case "active":
                return queryset.filter(is_active=True, is_paused=False)
            case "paused":
                return queryset.filter(is_active=True, is_paused=True)
            case "cancelled":
                return queryset.filter(is_active=False)
        return queryset


@admin.register(StrategySubscription)
class StrategySubscriptionAdmin(admin.ModelAdmin):
    list_display = [
        "user",
        "strategy",
        "state",
        "capital",
        "risk_per_trade",
        "leverage",
        "total_trades",
        "win_rate",
        "total_pnl",
        "subscribed_at",
    ]
    list_filter = [StateFilter, "subscribed_at"]
    search_fields = ["user__email", "strategy__code", "strategy__name"]
    list_select_related = ["user", "strategy"]
    readonly_fields = [
        "id",
        "subscribed_at",
        "paused_at",
        "unsubscribed_at",
        "total_trades",
        "winning_trades",
        "losing_trades",
        "total_pnl",
        "equity_chart",
    ]
    fieldsets = (
        (None, {"fields": ("id", "user", "strategy", "broker_credential")}),
        (
            "Risk",
            {
                "fields": (
                    "capital",
                    "risk_per_trade",
                    "leverage",
                    "max_positions",
                    "max_daily_loss",
                    "sl_atr_multiplier",
                    "tp_atr_multiplier",
                )
            },
        ),
        (
            "State",
            {"fields": ("is_active", "is_paused", "subscribed_at", "paused_at", "unsubscribed_at")},
        ),
        (
            "Performance",
            {
                "fields": (
                    "equity_chart",
                    "total_trades",
                    "winning_trades",
                    "losing_trades",
                    "total_pnl",
                )
            },
        ),
    )
    raw_id_fields = ["user", "strategy", "broker_credential"]

    @admin.display(description="state")
    def state(self, obj: StrategySubscription) -> str | None:
        if not obj.is_active:
            return "cancelled"
        return "paused" if obj.is_paused else "active"

    @admin.display(description="win rate")
    def win_rate(self, obj: StrategySubscription) -> str | None:
        decided = obj.winning_trades + obj.losing_trades
        return f"{obj.winning_trades / decided:.0%}" if decided else None

    @admin.display(description="equity (realised)")
    def equity_chart(self, obj: StrategySubscription) -> str | None:
        if obj._state.adding:
            return None
        svg = line_chart(
            equity_curve(obj),
            title="Equity: capital + realised PnL of closed trades",
            baseline=float(obj.capital),
        )
        # The chart escapes every label itself.
        return mark_safe(svg)  # noqa: S308
