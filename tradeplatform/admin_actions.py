"""Admin actions that change state through the same services as the API, so counters,
the candle registry and the settings cache move exactly as they do for an API call."""

from collections.abc import Callable

from django.contrib import admin, messages

from tradeplatform.api import ApplicationError


def service_action(
    service: Callable,
    *,
    keyword: str,
    description: str,
    done: str,
    name: str | None = None,
    **service_kwargs,
):
    """An admin action calling `service(<keyword>=obj, **service_kwargs)` for each
    selected object; the objects it refuses are reported with the service's message.
    `name` (the service's name by default) tells the actions of one admin apart."""

    @admin.action(description=description)
    def action(modeladmin, request, queryset):
        changed, refused = 0, []
        for obj in queryset:
            try:
                service(**{keyword: obj}, **service_kwargs)
            except ApplicationError as exc:
                refused.append(f"{obj}: {exc.message}")
            else:
                changed += 1
        if changed:
            modeladmin.message_user(request, f"{done}: {changed}.", messages.SUCCESS)
        for reason in refused:
            modeladmin.message_user(request, reason, messages.WARNING)

    action.__name__ = name or service.__name__
    return action
