import re

import django_filters
from django.db.models import Q

from .models import Strategy


class StrategyFilter(django_filters.FilterSet):
    """`search` looks in name, description, author and code; `status` is active or
    inactive; `tags` (comma-separated) keeps strategies carrying every tag given."""

    search = django_filters.CharFilter(method="filter_search", max_length=200)
    status = django_filters.ChoiceFilter(
        method="filter_status", choices=[("active", "active"), ("inactive", "inactive")]
    )
    tags = django_filters.CharFilter(method="filter_tags", max_length=500)

    class Meta:
        model = Strategy
        fields: list[str] = []

    def filter_search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(name__icontains=value)
            | Q(description__icontains=value)
            | Q(author__icontains=value)
            | Q(code__icontains=value)
        )

    def filter_status(self, queryset, name, value):
        return queryset.filter(is_active=value == "active")

    def filter_tags(self, queryset, name, value):
        for tag in {tag.strip() for tag in value.split(",") if tag.strip()}:
            # A whole tag of the comma-separated column, not a substring of another tag.
            queryset = queryset.filter(tags__iregex=rf"(^|,)\s*{re.escape(tag)}\s*(,|$)")
        return queryset
