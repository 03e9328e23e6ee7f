import logging
import os
import sys

from celery import Celery
from celery.signals import (
    celeryd_after_setup,
    heartbeat_sent,
    task_postrun,
    task_prerun,
    worker_ready,
)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradeplatform.settings")

app = Celery("tradeplatform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


ORDERS_QUEUE = "orders"


def _queues(worker) -> set[str]:
    return set(worker.app.amqp.queues.consume_from or worker.app.amqp.queues)


@celeryd_after_setup.connect
def _broker_key_only_in_the_orders_worker(sender=None, instance=None, **kwargs):
    """A worker that holds the broker private key serves the `orders` queue and nothing
    else: a strategy (or backtest) worker with the key would put every subscriber's
    credential one sandbox escape away. Such a worker refuses to start."""
    from accounts import crypto

    queues = _queues(instance)
    if crypto.can_unseal() and queues != {ORDERS_QUEUE}:
        # SystemExit, not an Exception: Celery logs and swallows a handler's exceptions.
        logging.getLogger(__name__).critical(
            "BROKER_PRIVATE_KEYS is set in a worker consuming %s: only the orders worker "
            "(-Q %s) may hold it; not starting",
            sorted(queues),
            ORDERS_QUEUE,
        )
        sys.exit(3)


@worker_ready.connect
def _worker_ready(sender=None, **kwargs):
    from tradeplatform.health import worker_heartbeat_record

    worker_heartbeat_record(force=True)
    if sender is not None and ORDERS_QUEUE in _queues(sender.controller):
        # Before the orders worker takes anything new: every order left SUBMITTED (sent,
        # answer unknown) is looked up on its exchange and booked.
        from executions.orders import submitted_orders_reconcile

        submitted_orders_reconcile()


@heartbeat_sent.connect
def _worker_heartbeat(**kwargs):
    from tradeplatform.health import worker_heartbeat_record

    worker_heartbeat_record()


@task_prerun.connect
@task_postrun.connect
def _recycle_database_connections(task=None, **kwargs):
    """Workers keep their database connection between tasks, as the web workers do:
    Django drops it only when it is older than CONN_MAX_AGE, broken, or left in a failed
    state. Celery's own fix-up closes it around every task (settings.CELERY_DB_REUSE_MAX
    holds that off); a new PostgreSQL connection per strategy run cost more than the run
    (bench/RESULTS.md). Eager tasks (tests) run inside the caller's transaction: untouched."""
    if task is not None and getattr(task.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()
