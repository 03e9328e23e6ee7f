"""Operators' view of subscriptions.

The equity curve reads the subscription's closed trades through the reverse relation
`StrategySubscription.trades` (declared by the executions app; their status is
`subscriptions.enums.TradeStatus`): this module never imports a downstream app."""

from django import forms
from django.contrib import admin
from django.utils.safestring import mark_safe

from tradeplatform.admin_actions import service_action
from tradeplatform.svg import line_chart

from . import services
from .enums import TradeStatus
from .models import StrategySubscription
from .risk import RISK_FIELDS
from .serializers import RiskSettingsSerializer


def equity_curve(subscription: StrategySubscription) -> list[tuple[str, object]]:
    """(label, equity) points: the capital at subscription, then capital plus the
    cumulative realised PnL after each closed trade, in closing order."""
    equity = subscription.capital
    points = [(f"start {subscription.subscribed_at:%Y-%m-%d %H:%M}", equity)]
    closed = (
        subscription.trades.filter(status=TradeStatus.CLOSED, pnl__isnull=False)
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


class RiskSettingsForm(forms.ModelForm):
    """The risk settings are checked by the API's own rules (RiskSettingsSerializer)."""

    class Meta:
        model = StrategySubscription
        fields = list(RISK_FIELDS)

    def clean(self):
        cleaned = super().clean()
        risk = {name: cleaned[name] for name in RISK_FIELDS if name in cleaned}
        checked = RiskSettingsSerializer(data=risk, partial=True)
        if not checked.is_valid():
            for name, errors in checked.errors.items():
                for error in errors:
                    self.add_error(name if name in self.fields else None, str(error))
        return cleaned


@admin.register(StrategySubscription)
class StrategySubscriptionAdmin(admin.ModelAdmin):
    form = RiskSettingsForm
    actions = [
        service_action(
            services.subscription_pause,
            keyword="subscription",
            description="Pause the selected subscriptions",
            done="Paused",
        ),
        service_action(
            services.subscription_resume,
            keyword="subscription",
            description="Resume the selected subscriptions",
            done="Resumed",
        ),
        service_action(
            services.subscription_cancel,
            keyword="subscription",
            description="Cancel the selected subscriptions (open trades close at the next close)",
            done="Cancelled",
        ),
        service_action(
            services.subscription_flatten,
            keyword="subscription",
            description="Flatten: close the selected subscriptions' positions at market",
            done="Positions closing",
        ),
    ]
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
    # Who follows what, and the state, change only through the actions (the services).
    readonly_fields = [
        "id",
        "user",
        "strategy",
        "broker_credential",
        "is_active",
        "is_paused",
        "pause_reason",
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
        ("Risk", {"fields": RISK_FIELDS}),
        (
            "State",
            {
                "fields": (
                    "is_active",
                    "is_paused",
                    "pause_reason",
                    "subscribed_at",
                    "paused_at",
                    "unsubscribed_at",
                )
            },
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

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and not obj.is_active:  # cancelled: a record only
            return [*self.readonly_fields, *RISK_FIELDS]
        return self.readonly_fields

    def has_add_permission(self, request):
        # Users subscribe through the API, which checks the credential and counts them.
        return False

    def save_model(self, request, obj, form, change):
        data = {name: form.cleaned_data[name] for name in form.changed_data}
        if data:
            services.subscription_update(subscription=obj, data=data)

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
