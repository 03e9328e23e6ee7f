import os

from celery import Celery
from celery.signals import heartbeat_sent, task_postrun, task_prerun, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradeplatform.settings")

app = Celery("tradeplatform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def _worker_ready(**kwargs):
    from tradeplatform.health import worker_heartbeat_record

    worker_heartbeat_record(force=True)


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
