"""Celery tasks of the candle-close flow. Each is an interface: primitive arguments in,
one service call, nothing secret in a message (ids and ISO times only)."""

import logging
from datetime import datetime, timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import RedisError

from executions.backtest import backtest_run
from executions.candles import candle_close_floor
from executions.engine import candle_close_prepare, execution_run
from executions.models import Backtest, StrategyExecution
from strategies.registry import (
    registry_active_candles,
    registry_ensure_built,
)

logger = logging.getLogger(__name__)

# A reaped row's worker has been gone for at least the task's hard time limit plus this.
REAP_MARGIN_SECONDS = 60


def run_expiry_seconds(resolution: int) -> float:
    """How long a fanned-out run stays valid: 80% of the candle period (at most 30 min
    for long periods), so a backlog never trades on a candle a newer one replaced."""
    return min(resolution * 60 * 0.8, 30 * 60)


@shared_task(name="executions.resolution_tick")
def resolution_tick(resolution: int) -> int:
    """Fan out one run per registered strategy of every candle of this resolution that
    just closed. Returns the number of runs enqueued."""
    resolution = int(resolution)
    close_time = candle_close_floor(timezone.now(), resolution)
    if registry_ensure_built():
        logger.warning("candle registry was missing from Redis: rebuilt from the database")
    expires = close_time + timedelta(seconds=run_expiry_seconds(resolution))
    enqueued = 0
    for key in sorted(registry_active_candles()):
        symbol, _, key_resolution = key.rpartition(":")
        if int(key_resolution) != resolution:
            continue
        strategy_ids = candle_close_prepare(
            symbol=symbol, resolution=resolution, close_time=close_time
        )
        for strategy_id in strategy_ids:
            run_strategy.apply_async((strategy_id, close_time.isoformat()), expires=expires)
            enqueued += 1
    return enqueued


# Redis unreachable before the execution row exists (settings cache, lock): nothing was
# written, so the run is retried with backoff; the message's expiry still bounds it.
@shared_task(
    name="executions.run_strategy",
    autoretry_for=(RedisError, ConnectionInterrupted),
    retry_backoff=2,
    retry_backoff_max=60,
    max_retries=5,
)
def run_strategy(strategy_id: str, close_iso: str) -> str | None:
    execution = execution_run(strategy_id=strategy_id, close_time=datetime.fromisoformat(close_iso))
    return execution.status if execution is not None else None


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


@shared_task(name="executions.reap_stale_executions")
def reap_stale_executions() -> int:
    """RUNNING rows older than the task time limit + a margin lost their worker: FAILED.
    Backtests too, against their own time limit."""
    now = timezone.now()
    return stale_executions_reap(now=now) + stale_backtests_reap(now=now)


def _reap(model, *, now: datetime, time_limit: int, message: str) -> int:
    """RUNNING rows of `model` started before now - time_limit - margin become FAILED."""
    cutoff = now - timedelta(seconds=time_limit + REAP_MARGIN_SECONDS)
    reaped = model.objects.filter(status=model.Status.RUNNING, started_at__lt=cutoff).update(
        status=model.Status.FAILED, error_message=message, completed_at=now
    )
    if reaped:
        logger.warning("reaped %d %s row(s) left RUNNING", reaped, model.__name__)
    return reaped


def stale_executions_reap(*, now: datetime) -> int:
    return _reap(
        StrategyExecution,
        now=now,
        time_limit=settings.CELERY_TASK_TIME_LIMIT,
        message="worker lost (reaped)",
    )


def stale_backtests_reap(*, now: datetime) -> int:
    return _reap(
        Backtest,
        now=now,
        time_limit=settings.BACKTEST_TIME_LIMIT,
        message="worker lost or time limit exceeded (reaped)",
    )
