"""Operators' view of subscriptions.

The equity curve reads the subscription's closed trades through the reverse relation
`StrategySubscription.trades` (declared by the executions app; their status is
`strategies.enums.TradeStatus`): this module never imports a downstream app."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import re_path, reverse
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from strategies.enums import TradeStatus
from tradeplatform.admin_actions import service_action
from tradeplatform.api import ApplicationError
from tradeplatform.formatting import amount_text, money_text, percent_text
from tradeplatform.svg import line_chart

from . import services
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


RECENT_TRADES = 50


def _when(value) -> str:
    return date_format(value, "SHORT_DATETIME_FORMAT") if value else "-"


def _text(value) -> str:
    return str(value) if value else "-"


TRADE_COLUMNS = (
    ("opened", "created_at", _when),
    ("side", "side", _text),
    ("quantity", "quantity", amount_text),
    ("entry", "entry_price", amount_text),
    ("stop-loss", "stop_loss", amount_text),
    ("take-profit", "take_profit", amount_text),
    ("status", "status", _text),
    ("exit", "exit_price", amount_text),
    ("exit reason", "exit_reason", _text),
    ("PnL", "pnl", money_text),
    ("closed", "closed_at", _when),
)


# The per-object buttons of the change page: name -> (label, service, done).
STATE_CHANGES = {
    "pause": ("Pause", services.subscription_pause, "Paused"),
    "resume": ("Resume", services.subscription_resume, "Resumed"),
    "cancel": ("Cancel", services.subscription_cancel, "Cancelled"),
}


@admin.register(StrategySubscription)
class StrategySubscriptionAdmin(admin.ModelAdmin):
    form = RiskSettingsForm
    change_form_template = "admin/subscriptions/strategysubscription/change_form.html"
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
        "strategy_code",
        "state",
        "capital_shown",
        "risk_shown",
        "trades_count",
        "win_rate",
        "pnl_shown",
        "subscribed",
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
        "recent_trades",
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
                    "recent_trades",
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

    def get_urls(self):
        state_change = require_POST(self.admin_site.admin_view(self.state_change_view))
        return [
            re_path(
                rf"^(?P<object_id>[0-9a-f-]+)/(?P<change>{'|'.join(STATE_CHANGES)})/$",
                state_change,
                name="subscriptions_strategysubscription_state",
            ),
            *super().get_urls(),
        ]

    def state_change_view(self, request, object_id, change):
        """POST …/<id>/pause|resume|cancel/: the same service as the API and the bulk
        actions; a refusal ("already paused") is shown as it is."""
        subscription = get_object_or_404(self.get_queryset(request), pk=object_id)
        if not self.has_change_permission(request, subscription):
            raise PermissionDenied
        _label, service, done = STATE_CHANGES[change]
        try:
            service(subscription=subscription)
        except ApplicationError as exc:
            self.message_user(request, f"{subscription}: {exc.message}", messages.WARNING)
        else:
            self.message_user(request, f"{done}: {subscription}.", messages.SUCCESS)
        return HttpResponseRedirect(
            reverse("admin:subscriptions_strategysubscription_change", args=[subscription.pk])
        )

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.is_active:
            available = ("resume", "cancel") if obj.is_paused else ("pause", "cancel")
            context["state_buttons"] = [
                (
                    STATE_CHANGES[name][0],
                    reverse("admin:subscriptions_strategysubscription_state", args=[obj.pk, name]),
                )
                for name in available
            ]
        return super().render_change_form(request, context, add, change, form_url, obj)

    def save_model(self, request, obj, form, change):
        data = {name: form.cleaned_data[name] for name in form.changed_data}
        if data:
            services.subscription_update(subscription=obj, data=data)

    @admin.display(description="strategy", ordering="strategy__code")
    def strategy_code(self, obj: StrategySubscription) -> str:
        return obj.strategy.code

    @admin.display(description="state")
    def state(self, obj: StrategySubscription) -> str | None:
        if not obj.is_active:
            return "cancelled"
        return "paused" if obj.is_paused else "active"

    @admin.display(description="win rate")
    def win_rate(self, obj: StrategySubscription) -> str | None:
        decided = obj.winning_trades + obj.losing_trades
        return f"{obj.winning_trades / decided:.0%}" if decided else None

    @admin.display(description="trades", ordering="total_trades")
    def trades_count(self, obj: StrategySubscription) -> int:
        return obj.total_trades

    @admin.display(description="subscribed", ordering="subscribed_at")
    def subscribed(self, obj: StrategySubscription) -> str:
        return _when(obj.subscribed_at)

    @admin.display(description="capital", ordering="capital")
    def capital_shown(self, obj: StrategySubscription) -> str:
        return money_text(obj.capital)

    @admin.display(description="risk, leverage", ordering="risk_per_trade")
    def risk_shown(self, obj: StrategySubscription) -> str:
        return f"{percent_text(obj.risk_per_trade)}, {obj.leverage}x"

    @admin.display(description="total PnL", ordering="total_pnl")
    def pnl_shown(self, obj: StrategySubscription) -> str:
        return money_text(obj.total_pnl)

    @admin.display(description="trades")
    def recent_trades(self, obj: StrategySubscription) -> str:
        """The last trades, newest first, and a link to all of them (a page of a busy
        subscription would otherwise hold thousands of rows)."""
        if obj._state.adding:
            return "-"
        trades = list(obj.trades.order_by("-created_at")[:RECENT_TRADES])
        if not trades:
            return "No trades yet"
        header = format_html_join("", "<th>{}</th>", ((label,) for label, _, _ in TRADE_COLUMNS))
        rows = format_html_join(
            "",
            "<tr>{}</tr>",
            (
                (
                    format_html_join(
                        "",
                        "<td>{}</td>",
                        ((show(getattr(t, f)),) for _, f, show in TRADE_COLUMNS),
                    ),
                )
                for t in trades
            ),
        )
        model = obj.trades.model._meta
        every = reverse(f"admin:{model.app_label}_{model.model_name}_changelist")
        return format_html(
            '<table class="recent-trades"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>'
            '<p><a href="{}?subscription__id__exact={}">All {} trades of this subscription</a></p>',
            header,
            rows,
            every,
            obj.pk,
            obj.total_trades,
        )

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
