import os

from celery import Celery
from celery.signals import heartbeat_sent, worker_ready

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
