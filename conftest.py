import pytest
from django.test import override_settings
from django_redis import get_redis_connection
from rest_framework.test import APIClient

from accounts.tests.factories import UserFactory
from strategies import registry
from tradeplatform.celery import app as celery_app

pytest_plugins = ["tradeplatform.tests.fixtures"]


@pytest.fixture(autouse=True, scope="session")
def _celery_eager():
    """Tasks run in-process unless a test starts a real worker."""
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hasher():
    """Argon2 is deliberately slow; tests that check it ask for it by name."""
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture(autouse=True)
def _clean_redis():
    """Each test starts with an empty Redis database: registry, caches and throttles."""
    get_redis_connection("default").flushdb()
    registry._local_clear()
    yield


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def other_user(db):
    return UserFactory()


@pytest.fixture
def staff_user(db):
    return UserFactory(is_staff=True)


@pytest.fixture
def api_client():
    return APIClient()


def _client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user=user)
    return client


@pytest.fixture
def auth_client(user):
    return _client_for(user)


@pytest.fixture
def other_client(other_user):
    return _client_for(other_user)


@pytest.fixture
def staff_client(staff_user):
    return _client_for(staff_user)


@pytest.fixture
def orders_worker_keys(settings):
    """This test plays the orders worker: it holds the (development) private key that
    opens broker credentials. Every other test is a process without it."""
    settings.BROKER_PRIVATE_KEYS = settings.DEV_BROKER_PRIVATE_KEY_FILE.read_text().split()


@pytest.fixture
def run_close(django_capture_on_commit_callbacks):
    """`execution_run` as in production: its orders go to the (eager) orders worker after
    its transaction commits, so their fills are booked when this returns."""
    from executions.engine import execution_run

    def run(**kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return execution_run(**kwargs)

    return run
