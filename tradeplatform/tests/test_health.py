"""/health and the landing page. The down cases point the real connections at a closed
port; nothing of ours is mocked."""

import subprocess
import sys
import time

import pytest
from django.db import connections
from django.test import override_settings
from django_redis import get_redis_connection

from tradeplatform import health

CLOSED_PORT = 1  # nothing listens on 127.0.0.1:1


def _stamp_heartbeat(age_seconds: float) -> None:
    get_redis_connection("default").set(health.HEARTBEAT_KEY, str(time.time() - age_seconds))


@pytest.fixture
def unreachable_redis(settings):
    caches = {"default": {**settings.CACHES["default"]}}
    caches["default"]["LOCATION"] = f"redis://127.0.0.1:{CLOSED_PORT}/0"
    with override_settings(CACHES=caches):
        yield


@pytest.fixture
def unreachable_database(db):
    """The default alias, for the duration of the test, is a connection to nowhere."""
    original = connections["default"]
    unreachable = dict(original.settings_dict)
    unreachable.update(HOST="127.0.0.1", PORT=str(CLOSED_PORT))
    broken = original.__class__(unreachable, alias="default")
    connections["default"] = broken
    try:
        yield
    finally:
        broken.close()
        connections["default"] = original


@pytest.mark.django_db
def test_all_up_answers_200(client):
    _stamp_heartbeat(5)
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "services": {"database": "ok", "redis": "ok", "celery": "ok"},
        "sandbox": "confined (warm)",
        "missedClosesLastHour": 0,
    }
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_health_counts_the_closes_missed_in_the_last_hour(client):
    from datetime import timedelta

    from django.utils import timezone

    from executions.tests.factories import ExecutionFactory

    _stamp_heartbeat(5)
    now = timezone.now()
    for message, completed in [
        ("missed: the queue was 61 s behind", now - timedelta(minutes=5)),
        ("missed: the queue was 300 s behind", now - timedelta(minutes=20)),
        ("missed: the queue was 90 s behind", now - timedelta(hours=2)),  # too old
        ("superseded by a later close (…)", now),  # not missed: a later close traded
    ]:
        ExecutionFactory(status="SKIPPED", error_message=message, completed_at=completed)
    body = client.get("/health").json()
    assert body["status"] == "ok"  # a figure to watch, not a failing service
    assert body["missedClosesLastHour"] == 2


@pytest.mark.django_db
def test_no_worker_heartbeat_answers_503_naming_celery(client):
    response = client.get("/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["services"]["celery"] == "no worker heartbeat"
    assert body["services"]["database"] == body["services"]["redis"] == "ok"


@pytest.mark.django_db
def test_stale_worker_heartbeat_answers_503(client):
    _stamp_heartbeat(health.HEARTBEAT_MAX_AGE + 30)
    response = client.get("/health")
    assert response.status_code == 503
    assert response.json()["services"]["celery"].startswith("no worker heartbeat for ")


@pytest.mark.django_db
def test_redis_down_answers_503_naming_redis(client, unreachable_redis):
    response = client.get("/health")
    assert response.status_code == 503
    services = response.json()["services"]
    assert services["redis"].startswith("unreachable")
    assert services["celery"].startswith("unknown")
    assert services["database"] == "ok"
    assert "127.0.0.1" not in response.content.decode()


def test_database_down_answers_503_naming_the_database(client, unreachable_database):
    _stamp_heartbeat(5)
    response = client.get("/health")
    assert response.status_code == 503
    services = response.json()["services"]
    assert services["database"].startswith("unreachable")
    assert services["redis"] == services["celery"] == "ok"


def test_heartbeat_signal_stamps_redis():
    from celery.signals import heartbeat_sent

    import tradeplatform.celery  # noqa: F401  (connects the signal handlers)

    heartbeat_sent.send(sender=None)
    assert health.check_celery() == "ok"


@pytest.mark.worker
@pytest.mark.django_db
def test_a_real_worker_makes_celery_healthy(client, settings):
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tradeplatform",
            "worker",
            "--pool",
            "solo",
            "--loglevel",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
        ],
        env={**__import__("os").environ, "REDIS_URL": settings.CACHES["default"]["LOCATION"]},
    )
    try:
        deadline = time.monotonic() + 30
        while health.check_celery() != "ok" and time.monotonic() < deadline:
            time.sleep(0.2)
        assert client.get("/health").status_code == 200
    finally:
        worker.terminate()
        worker.wait(timeout=20)


@pytest.mark.django_db
def test_landing_page_links_the_docs_admin_and_browsable_api(client):
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    for link in ("/api/docs/", "/api/redoc/", "/api/strategy-upload/strategies", "/admin/"):
        assert f'href="{link}' in html
    assert "http://" not in html and "https://" not in html  # nothing from a CDN
