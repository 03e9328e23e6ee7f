"""Writes of the executions app outside a run: settling the rows nobody will settle."""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Model

from .engine.fence import UNFINISHED, execution_give_up, owner_alive
from .engine.ordering import missed_message
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
    """Every expected close ends with exactly one final row. A PENDING row past its
    deadline (no run started in time), or a RUNNING one past it whose run is dead (the
    (strategy, close) lock is free), is SKIPPED "missed: the queue was N s behind"; a
    RUNNING row older than the task's time limit plus a margin is FAILED "worker lost
    (reaped)". Each is a conditional UPDATE on the status and token read: a run that
    resumes afterwards finds its row is no longer its own and writes nothing."""
    overdue = StrategyExecution.objects.filter(status__in=UNFINISHED, deadline__lt=now).only(
        "id", "strategy_id", "candle_close", "status", "run_token"
    )
    missed = 0
    for row in overdue:
        if row.status == StrategyExecution.Status.RUNNING and owner_alive(row):
            continue  # frozen or slow: the next close or the time limit below settles it
        message = missed_message(candle_close=row.candle_close, now=now)
        missed += execution_give_up(row, message, now=now)
    if missed:
        logger.warning("%d close(s) missed: their runs did not come in time", missed)
    return missed + running_rows_reap(
        model=StrategyExecution,
        now=now,
        time_limit=settings.CELERY_TASK_TIME_LIMIT,
        message="worker lost (reaped)",
    )
