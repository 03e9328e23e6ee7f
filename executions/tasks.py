"""Celery tasks of the candle-close flow. Each is an interface: primitive arguments in,
one service call, nothing secret in a message (ids and ISO times only)."""

from datetime import datetime

from celery import shared_task
from django.conf import settings
from django.utils import timezone
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import RedisError

from accounts.models import BrokerCredential
from executions.balances import balance_refresh as balance_refresh_service
from executions.brokers import broker_exchange
from executions.engine import candle_close_fan_out, execution_run
from executions.models import Order
from executions.orders import credential_reconcile as credential_reconcile_service
from executions.orders import credentials_to_reconcile, order_process, orders_process
from executions.orders import order_sync as order_sync_service
from executions.ratelimit import exchange_slot
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
#
# Every task that talks to an exchange runs holding one of that exchange's slots
# (`ratelimit.exchange_slot`); when they are all taken it goes back to the queue for
# ORDERS_EXCHANGE_RETRY_SECONDS instead of waiting in a thread, so an exchange that hangs
# holds ORDERS_EXCHANGE_CONCURRENCY threads at most and the others serve other exchanges.


def _on_exchange(task, args: tuple, broker_name: str | None, work):
    """`work()` inside a slot of the credential's exchange, or `task` sent again later."""
    with exchange_slot(broker_exchange(broker_name)) as held:
        if held:
            return work()
    task.apply_async(args, countdown=settings.ORDERS_EXCHANGE_RETRY_SECONDS)
    return None


def _broker_name(credential_id) -> str | None:
    return (
        BrokerCredential.objects.filter(id=credential_id)
        .values_list("broker_name", flat=True)
        .first()
    )


@shared_task(name="executions.orders_submit")
def orders_submit(order_ids: list[str]) -> int | None:
    """Send (or look up) one credential's orders written by a candle close or a close
    request, in turn."""
    broker_name = (
        Order.objects.filter(id=order_ids[0])
        .values_list("credential__broker_name", flat=True)
        .first()
    )

    def send():
        orders_process(order_ids=order_ids)
        return len(order_ids)

    return _on_exchange(orders_submit, (order_ids,), broker_name, send)


@shared_task(name="executions.order_sync")
def order_sync(order_id: str, round_: int = 0) -> str | None:
    """Look an unanswered order up by its client order id (and send it again only when
    the exchange has no such order, see executions.orders)."""
    order = Order.objects.select_related("trade__subscription", "credential").get(id=order_id)
    if order.status not in Order.ACTIVE:
        return order.status

    def look():
        if order.status == Order.Status.NEW:
            return order_process(order_id=order_id).status
        return order_sync_service(order=order, round_=round_).status

    return _on_exchange(order_sync, (order_id, round_), order.credential.broker_name, look)


@shared_task(name="executions.orders_reconcile")
def orders_reconcile() -> int:
    """Every minute (beat): one reconciliation per credential with anything open."""
    credential_ids = credentials_to_reconcile()
    for credential_id in credential_ids:
        credential_reconcile.delay(str(credential_id))
    return len(credential_ids)


@shared_task(name="executions.credential_reconcile")
def credential_reconcile(credential_id: str) -> int | None:
    return _on_exchange(
        credential_reconcile,
        (credential_id,),
        _broker_name(credential_id),
        lambda: len(credential_reconcile_service(credential_id=credential_id)),
    )


@shared_task(name="executions.balance_refresh")
def balance_refresh(credential_id: str) -> str | None:
    """Read one exchange credential's balance into its snapshot (executions.balances)."""
    return _on_exchange(
        balance_refresh,
        (credential_id,),
        _broker_name(credential_id),
        lambda: balance_refresh_service(credential_id=credential_id),
    )
