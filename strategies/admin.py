from django.contrib import admin

from .models import Strategy


@admin.register(Strategy)
class StrategyAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "code",
        "author",
        "version",
        "is_active",
        "is_public",
        "subscriber_count",
        "created_at",
    ]
    list_filter = ["is_active", "is_public", "is_marketplace", "created_at"]
    search_fields = ["name", "code", "author", "description", "tags"]
    readonly_fields = ["id", "subscriber_count", "created_at", "updated_at"]
    list_select_related = ["user"]
    autocomplete_fields = ["user"]
