"""Throttle counts live in the shared Redis cache, so every web process sees the same
count: a burst spread over several gunicorn workers is still one burst."""

import pytest
import redis
from django.conf import settings
from django.core.cache import cache, caches
from django_redis.cache import RedisCache
from rest_framework.test import APIRequestFactory
from rest_framework.throttling import ScopedRateThrottle

from accounts.views import LoginView


def _throttle_in_a_process_of_its_own() -> ScopedRateThrottle:
    """A throttle with its own cache client and connection pool, as another process has."""
    throttle = ScopedRateThrottle()
    throttle.cache = caches.create_connection("default")
    return throttle


def _request(ip: str):
    request = APIRequestFactory().post("/auth/login", REMOTE_ADDR=ip)
    request.user = None
    return request


def test_the_throttle_cache_is_redis():
    assert ScopedRateThrottle.cache is cache
    assert isinstance(caches["default"], RedisCache)


@pytest.mark.django_db
def test_a_request_leaves_its_count_in_redis(api_client):
    api_client.post(
        "/auth/login", {"email": "a@example.com", "password": "x"}, REMOTE_ADDR="10.1.2.3"
    )
    raw = redis.Redis.from_url(settings.REDIS_URL)
    keys = [key.decode() for key in raw.keys("*throttle_auth_10.1.2.3*")]
    assert len(keys) == 1
    # Read back through a separate client: one request, one timestamp.
    other = caches.create_connection("default")
    assert len(other.get("throttle_auth_10.1.2.3")) == 1


def test_two_processes_share_one_count():
    view = LoginView()
    first, second = _throttle_in_a_process_of_its_own(), _throttle_in_a_process_of_its_own()
    assert first.cache is not second.cache
    allowed = [first.allow_request(_request("10.4.5.6"), view) for _ in range(10)]
    assert allowed == [True] * 10
    # The other "process" has never seen this client, yet refuses it.
    assert second.allow_request(_request("10.4.5.6"), view) is False
    assert second.allow_request(_request("10.4.5.7"), view) is True


@pytest.mark.django_db
def test_a_forged_x_forwarded_for_does_not_escape_the_throttle(api_client):
    statuses = [
        api_client.post(
            "/auth/login",
            {"email": f"spray{n}@example.com", "password": "wrong-pass"},
            HTTP_X_FORWARDED_FOR=f"203.0.113.{n}",
        ).status_code
        for n in range(11)
    ]
    assert statuses == [401] * 10 + [429]


@pytest.mark.django_db
def test_behind_one_proxy_the_address_it_wrote_is_the_client(api_client, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    for n in range(10):
        api_client.post(
            "/auth/login",
            {"email": f"spray{n}@example.com", "password": "wrong-pass"},
            HTTP_X_FORWARDED_FOR=f"198.51.100.{n}, 192.0.2.1",  # forged, then the proxy's
        )
    blocked = api_client.post(
        "/auth/login",
        {"email": "x@example.com", "password": "wrong-pass"},
        HTTP_X_FORWARDED_FOR="192.0.2.1",
    )
    assert blocked.status_code == 429
    other_client = api_client.post(
        "/auth/login",
        {"email": "x@example.com", "password": "wrong-pass"},
        HTTP_X_FORWARDED_FOR="192.0.2.2",
    )
    assert other_client.status_code == 401
