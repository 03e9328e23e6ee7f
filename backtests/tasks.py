"""Celery tasks of the backtests. `run_backtest` keeps the name it had before backtests
became their own app, `executions.run_backtest`: CELERY_TASK_ROUTES sends that name to
the `backtests` queue, and messages already queued under it still find their task."""

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from .replay import backtest_run
from .services import stale_backtests_reap


@shared_task(
    name="executions.run_backtest",
    time_limit=settings.BACKTEST_TIME_LIMIT,
    soft_time_limit=settings.BACKTEST_TIME_LIMIT - 10,
)
def run_backtest(backtest_id: str) -> str | None:
    """Run one queued backtest (its own queue, see CELERY_TASK_ROUTES: a long replay
    never delays a candle close)."""
    backtest = backtest_run(backtest_id=backtest_id)
    return backtest.status if backtest is not None else None


@shared_task(name="backtests.reap_stale_backtests")
def reap_stale_backtests() -> int:
    """RUNNING backtests past BACKTEST_TIME_LIMIT + a margin lost their worker: FAILED."""
    return stale_backtests_reap(now=timezone.now())
