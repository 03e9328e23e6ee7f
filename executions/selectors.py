"""Reads of the executions app that the health check and the admin need."""

from datetime import datetime, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from strategies.enums import MISSED

from .models import StrategyExecution

MISSED_WINDOW = timedelta(hours=1)


def executions_missed(*, since: datetime | None = None) -> QuerySet[StrategyExecution]:
    """Closes that were missed (SKIPPED "missed: …": no run traded them by their
    deadline), settled since `since` (default: the last hour)."""
    since = timezone.now() - MISSED_WINDOW if since is None else since
    return StrategyExecution.objects.filter(
        status=StrategyExecution.Status.SKIPPED,
        error_message__startswith=f"{MISSED}:",
        completed_at__gte=since,
    )
