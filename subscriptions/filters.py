import django_filters

from .models import StrategySubscription


class SubscriptionFilter(django_filters.FilterSet):
    """`status`: active (running), paused or cancelled."""

    status = django_filters.ChoiceFilter(
        method="filter_status",
        choices=[("active", "active"), ("paused", "paused"), ("cancelled", "cancelled")],
    )

    class Meta:
        model = StrategySubscription
        fields: list[str] = []

    def filter_status(self, queryset, name, value):
        if value == "cancelled":
            return queryset.filter(is_active=False)
        return queryset.filter(is_active=True, is_paused=value == "paused")
