"""Writes of the executions app outside a run: reaping rows a lost worker left RUNNING."""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Model

from .models import StrategyExecution

logger = logging.getLogger(__name__)

# A reaped row's worker has been gone for at least the task's hard time limit plus this.
REAP_MARGIN_SECONDS = 60


def running_rows_reap(*, model: type[Model], now: datetime, time_limit: int, message: str) -> int:
    """RUNNING rows of `model` (a row with a lifecycle: status, started_at, error_message,
    completed_at) started before now - time_limit - margin become FAILED with `message`."""
    cutoff = now - timedelta(seconds=time_limit + REAP_MARGIN_SECONDS)
    reaped = model.objects.filter(status=model.Status.RUNNING, started_at__lt=cutoff).update(
        status=model.Status.FAILED, error_message=message, completed_at=now
    )
    if reaped:
        logger.warning("reaped %d %s row(s) left RUNNING", reaped, model.__name__)
    return reaped


def stale_executions_reap(*, now: datetime) -> int:
    return running_rows_reap(
        model=StrategyExecution,
        now=now,
        time_limit=settings.CELERY_TASK_TIME_LIMIT,
        message="worker lost (reaped)",
    )
