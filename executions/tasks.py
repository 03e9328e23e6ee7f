"""Celery tasks of the candle-close flow. Each is an interface: primitive arguments in,
one service call, nothing secret in a message (ids and ISO times only)."""

from datetime import datetime

from celery import shared_task
from django.utils import timezone
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import RedisError

from executions.balances import balance_refresh as balance_refresh_service
from executions.engine import candle_close_fan_out, execution_run
from executions.models import Order
from executions.orders import credential_reconcile as credential_reconcile_service
from executions.orders import credentials_to_reconcile, order_process, orders_process
from executions.orders import order_sync as order_sync_service
from executions.services import stale_executions_reap


def _enqueue_run(strategy_id: str, candle_close: datetime) -> None:
    run_strategy.delay(strategy_id, candle_close.isoformat())


@shared_task(name="executions.resolution_tick")
def resolution_tick(resolution: int) -> int:
    """Fan out one run per registered strategy of every candle of this resolution that
    just closed. Returns the number of runs enqueued."""
    return candle_close_fan_out(
        resolution=int(resolution), now=timezone.now(), enqueue=_enqueue_run
    )


# Redis unreachable before the run claims its row (settings cache): nothing was written,
# so the run is retried with backoff; the row's deadline still bounds it. A worker killed
# mid-run gives the message back (late ack, reject on worker lost): the re-delivery takes
# the close over (`engine.fence`), or finds it past its deadline and says so on its row.
@shared_task(
    name="executions.run_strategy",
    acks_late=True,
    reject_on_worker_lost=True,
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
    """Settle the rows nobody will settle (`services.stale_executions_reap`)."""
    return stale_executions_reap(now=timezone.now())


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


@shared_task(name="executions.balance_refresh")
def balance_refresh(credential_id: str) -> str:
    """Read one exchange credential's balance into its snapshot (executions.balances)."""
    return balance_refresh_service(credential_id=credential_id)
