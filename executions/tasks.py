"""Celery tasks of the candle-close flow. Each is an interface: primitive arguments in,
one service call, nothing secret in a message (ids and ISO times only)."""

from datetime import datetime

from celery import shared_task
from django.utils import timezone
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import RedisError

from executions.engine import candle_close_fan_out, execution_run
from executions.services import stale_executions_reap


def _enqueue_run(strategy_id: str, candle_close: datetime, expires: datetime) -> None:
    run_strategy.apply_async((strategy_id, candle_close.isoformat()), expires=expires)


@shared_task(name="executions.resolution_tick")
def resolution_tick(resolution: int) -> int:
    """Fan out one run per registered strategy of every candle of this resolution that
    just closed. Returns the number of runs enqueued."""
    return candle_close_fan_out(
        resolution=int(resolution), now=timezone.now(), enqueue=_enqueue_run
    )


# Redis unreachable before the execution row exists (settings cache, lock): nothing was
# written, so the run is retried with backoff; the message's expiry still bounds it.
@shared_task(
    name="executions.run_strategy",
    autoretry_for=(RedisError, ConnectionInterrupted),
    retry_backoff=2,
    retry_backoff_max=60,
    max_retries=5,
)
def run_strategy(strategy_id: str, candle_close: str) -> str | None:
    execution = execution_run(
        strategy_id=strategy_id, candle_close=datetime.fromisoformat(candle_close)
    )
    return execution.status if execution is not None else None


@shared_task(name="executions.reap_stale_executions")
def reap_stale_executions() -> int:
    """RUNNING rows older than the task time limit + a margin lost their worker: FAILED."""
    return stale_executions_reap(now=timezone.now())
