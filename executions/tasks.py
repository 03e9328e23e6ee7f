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
from executions.models import Backtest, Order, StrategyExecution
from executions.orders import credential_reconcile as credential_reconcile_service
from executions.orders import (
    credentials_to_reconcile,
    order_process,
    orders_process,
)
from executions.orders import order_sync as order_sync_service
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


# -- the `orders` queue: served by the orders worker alone (it holds the broker key) ------


@shared_task(name="executions.orders_submit")
def orders_submit(order_ids: list[str]) -> int:
    """Send (or look up) a batch of orders written by a candle close or a close request."""
    orders_process(order_ids=order_ids)
    return len(order_ids)


@shared_task(name="executions.order_sync")
def order_sync(order_id: str, round_: int = 0) -> str:
    """Look an unanswered order up by its client order id (and send it again only when
    the exchange has no such order, see executions.orders)."""
    order = Order.objects.select_related("trade__subscription", "credential").get(id=order_id)
    if order.status in Order.ACTIVE:
        if order.status == Order.Status.NEW:
            order_process(order_id=order_id)
        else:
            order_sync_service(order=order, round_=round_)
    return order.status


@shared_task(name="executions.orders_reconcile")
def orders_reconcile() -> int:
    """Every minute (beat): one reconciliation per credential with anything open."""
    credential_ids = credentials_to_reconcile()
    for credential_id in credential_ids:
        credential_reconcile.delay(str(credential_id))
    return len(credential_ids)


@shared_task(name="executions.credential_reconcile")
def credential_reconcile(credential_id: str) -> int:
    return len(credential_reconcile_service(credential_id=credential_id))
