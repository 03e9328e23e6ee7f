"""System checks that keep the Celery and sandbox settings honest with each other."""

from django.conf import settings
from django.core.checks import Error, register


@register("executions")
def execution_settings_check(app_configs=None, **kwargs) -> list[Error]:
    errors = []
    visibility = (settings.CELERY_BROKER_TRANSPORT_OPTIONS or {}).get("visibility_timeout", 3600)
    if visibility <= settings.CELERY_TASK_TIME_LIMIT:
        errors.append(
            Error(
                f"CELERY_TASK_TIME_LIMIT ({settings.CELERY_TASK_TIME_LIMIT}s) must be shorter "
                f"than the broker visibility timeout ({visibility}s).",
                hint="With late acks the broker would redeliver a task that is still running.",
                id="executions.E002",
            )
        )
    if settings.CELERY_WORKER_PREFETCH_MULTIPLIER != 1:
        errors.append(
            Error(
                "CELERY_WORKER_PREFETCH_MULTIPLIER must be 1.",
                hint="A worker busy with a slow strategy must not hold other runs back.",
                id="executions.E003",
            )
        )
    if not 0 < settings.SIGNAL_PRICE_BAND < 1:
        errors.append(
            Error(
                f"SIGNAL_PRICE_BAND ({settings.SIGNAL_PRICE_BAND}) must lie between 0 and 1.",
                hint="It is the fraction of the price a stop-loss or take-profit may lie from it.",
                id="executions.E004",
            )
        )
    return errors
