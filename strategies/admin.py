"""Operators' view of strategies.

The execution figures come through the reverse relation `Strategy.executions` (declared by
the executions app; their status is `strategies.enums.ExecutionStatus`): this module never
imports a downstream app (imports go accounts, marketdata <- strategies <- subscriptions <-
executions <- backtests)."""

from datetime import timedelta

from django.contrib import admin
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import TruncDay, TruncHour
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from tradeplatform.admin_actions import service_action
from tradeplatform.svg import STATUS_COLOURS, bar_chart

from . import services
from .enums import EXECUTION_OUTCOMES, ExecutionStatus
from .models import Strategy


def execution_outcomes(strategy: Strategy, *, now=None) -> tuple[str, list[str], dict]:
    """Counts of COMPLETED/SKIPPED/FAILED executions per hour over the last 48 hours for an
    intraday strategy, per day over the last 30 days otherwise; every bucket from the first
    one with an execution up to now is listed, empty ones included."""
    now = now or timezone.now()
    if strategy.resolution and strategy.resolution < 60:
        unit, truncate, step, since, fmt = "hour", TruncHour, timedelta(hours=1), 48, "%m-%d %H:00"
        start = (now - timedelta(hours=since)).replace(minute=0, second=0, microsecond=0)
    else:
        unit, truncate, step, since, fmt = "day", TruncDay, timedelta(days=1), 30, "%Y-%m-%d"
        start = (now - timedelta(days=since)).replace(hour=0, minute=0, second=0, microsecond=0)
    rows = (
        strategy.executions.filter(candle_close__gte=start, status__in=EXECUTION_OUTCOMES)
        .annotate(bucket=truncate("candle_close"))
        .values("bucket", "status")
        .annotate(count=Count("id"))
        .order_by("bucket")
    )
    counts = {(row["bucket"], row["status"]): row["count"] for row in rows}
    if not counts:
        return unit, [], {status: [] for status in EXECUTION_OUTCOMES}
    buckets = []
    bucket = min(key[0] for key in counts)
    while bucket <= now:
        buckets.append(bucket)
        bucket += step
    series = {
        status: [counts.get((b, status), 0) for b in buckets] for status in EXECUTION_OUTCOMES
    }
    return unit, [b.strftime(fmt) for b in buckets], series


class LastExecutionFilter(admin.SimpleListFilter):
    title = "last execution"
    parameter_name = "last_execution"

    def lookups(self, request, model_admin):
        return [
            (status, status.title()) for status in (*EXECUTION_OUTCOMES, ExecutionStatus.RUNNING)
        ] + [("none", "Never run")]

    def queryset(self, request, queryset):
        if self.value() == "none":
            return queryset.filter(last_execution_status__isnull=True)
        if self.value():
            return queryset.filter(last_execution_status=self.value())
        return queryset


@admin.register(Strategy)
class StrategyAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "symbol_and_resolution",
        "is_active",
        "active_subscribers",
        "paused_subscribers",
        "last_execution",
        "created_at",
    ]
    list_filter = ["is_active", "is_public", "is_marketplace", LastExecutionFilter, "created_at"]
    search_fields = ["name", "code", "author", "description", "tags"]
    # What the engine runs (source, candle, active) changes through the API and the
    # actions below; operators edit the metadata here.
    readonly_fields = [
        "id",
        "user",
        "author",
        "code",
        "version",
        "execution_config",
        "source",
        "is_active",
        "subscriber_count",
        "execution_chart",
        "created_at",
        "updated_at",
    ]
    fieldsets = (
        (None, {"fields": ("id", "name", "code", "user", "author", "version", "description")}),
        ("Trading", {"fields": ("execution_config", "source", "tags")}),
        ("State", {"fields": ("is_active", "is_public", "is_marketplace", "subscriber_count")}),
        ("Executions", {"fields": ("execution_chart",)}),
        ("Dates", {"fields": ("created_at", "updated_at")}),
    )
    list_select_related = ["user"]
    actions = [
        service_action(
            services.strategy_activate,
            keyword="strategy",
            description="Activate the selected strategies",
            done="Activated",
        ),
        service_action(
            services.strategy_deactivate,
            keyword="strategy",
            verb="deactivate",
            description="Deactivate (refused while a subscription is active)",
            done="Deactivated",
        ),
        service_action(
            services.strategy_deactivate,
            keyword="strategy",
            name="strategy_deactivate_force",
            force=True,
            description="Deactivate even with active subscriptions (stops its runs)",
            done="Deactivated",
        ),
    ]

    def has_add_permission(self, request):
        # Authors upload through the API, which validates the source and the candle.
        return False

    def save_model(self, request, obj, form, change):
        changed = set(form.changed_data)
        data = {field: form.cleaned_data[field] for field in changed & services.WRITABLE_FIELDS}
        if data:
            services.strategy_update(strategy=obj, data=data)
        if "is_marketplace" in changed:
            # An operator's decision, never the author's: not a field of strategy_update.
            Strategy.objects.filter(pk=obj.pk).update(is_marketplace=obj.is_marketplace)

    def get_queryset(self, request):
        last_status = (
            Strategy.objects.filter(pk=OuterRef("pk"), executions__isnull=False)
            .order_by("-executions__candle_close")
            .values("executions__status")[:1]
        )
        return (
            super()
            .get_queryset(request)
            .annotate(
                active_subscribers=Count(
                    "subscriptions",
                    filter=Q(subscriptions__is_active=True, subscriptions__is_paused=False),
                ),
                paused_subscribers=Count(
                    "subscriptions",
                    filter=Q(subscriptions__is_active=True, subscriptions__is_paused=True),
                ),
                last_execution_status=Subquery(last_status),
            )
        )

    @admin.display(description="candle")
    def symbol_and_resolution(self, obj: Strategy) -> str | None:
        return f"{obj.symbol}:{obj.resolution}m"

    @admin.display(description="active subs", ordering="active_subscribers")
    def active_subscribers(self, obj: Strategy) -> int:
        return obj.active_subscribers

    @admin.display(description="paused subs", ordering="paused_subscribers")
    def paused_subscribers(self, obj: Strategy) -> int:
        return obj.paused_subscribers

    @admin.display(description="last execution", ordering="last_execution_status")
    def last_execution(self, obj: Strategy) -> str | None:
        return obj.last_execution_status

    @admin.display(description="strategy code")
    def source(self, obj: Strategy) -> str:
        return format_html('<pre style="white-space: pre-wrap">{}</pre>', obj.strategy_code)

    @admin.display(description="execution outcomes")
    def execution_chart(self, obj: Strategy) -> str | None:
        if obj._state.adding:
            return None
        unit, buckets, series = execution_outcomes(obj)
        svg = bar_chart(
            buckets,
            series,
            title=f"Executions per {unit}",
            colours=STATUS_COLOURS,
            empty_message="No executions yet",
        )
        # The chart escapes every label itself.
        return mark_safe(svg)  # noqa: S308
