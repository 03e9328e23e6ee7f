"""PostgreSQL unreachable: every layer (DRF view, authentication, session middleware,
admin) answers 503 with the error envelope, never Django's HTML 500."""

import uuid

import pytest
from django.db import OperationalError, connection
from django.test import RequestFactory
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import User
from tradeplatform.api import json_server_error

UNAVAILABLE = {"error": "Service unavailable: the database cannot be reached"}


@pytest.fixture
def database_unreachable(django_db_blocker):
    """The real connection, pointed at a closed port."""
    with django_db_blocker.unblock():
        original = dict(connection.settings_dict)
        connection.close()
        connection.settings_dict.update(HOST="127.0.0.1", PORT=1)
        try:
            yield
        finally:
            connection.close()
            connection.settings_dict.clear()
            connection.settings_dict.update(original)


@pytest.fixture
def client_no_raise():
    # The test client re-raises what reached Django's handler500; a browser would not.
    return APIClient(raise_request_exception=False)


def _bearer() -> str:
    return f"Bearer {AccessToken.for_user(User(id=uuid.uuid4()))}"


def test_authenticated_api_request(database_unreachable, client_no_raise):
    response = client_no_raise.get("/auth/me", HTTP_AUTHORIZATION=_bearer())
    assert response.status_code == 503
    assert response.json() == UNAVAILABLE


@pytest.mark.parametrize("path", ["/auth/login", "/auth/register"])
def test_login_and_register(database_unreachable, client_no_raise, path):
    response = client_no_raise.post(
        path, {"email": "a@example.com", "password": "Tr4ding-Platform-2026!"}, format="json"
    )
    assert response.status_code == 503
    assert response.json() == UNAVAILABLE


def test_session_middleware_on_the_admin(database_unreachable, client_no_raise):
    client_no_raise.cookies["sessionid"] = "a" * 32
    response = client_no_raise.get("/admin/")
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response.json() == UNAVAILABLE


def test_session_authentication_on_the_api(database_unreachable, client_no_raise):
    client_no_raise.cookies["sessionid"] = "a" * 32
    response = client_no_raise.get("/auth/me")
    assert response.status_code == 503
    assert response.json() == UNAVAILABLE


def test_the_error_names_no_host_or_driver_detail(database_unreachable, client_no_raise):
    response = client_no_raise.get("/auth/me", HTTP_AUTHORIZATION=_bearer())
    assert b"127.0.0.1" not in response.content
    assert b"port" not in response.content.lower()


@pytest.mark.parametrize(
    ("exc", "status"), [(RuntimeError("boom"), 500), (OperationalError("refused"), 503)]
)
def test_handler500_tells_a_lost_database_from_a_bug(exc, status):
    request = RequestFactory().get("/admin/")
    try:
        raise exc
    except Exception:
        response = json_server_error(request)
    assert response.status_code == status
    assert b"boom" not in response.content
    assert b"refused" not in response.content


@pytest.mark.parametrize(
    "path", ["/api/strategy-upload/strategies", "/api/strategies/subscriptions", "/auth/me"]
)
def test_api_lists(database_unreachable, client_no_raise, path):
    response = client_no_raise.get(path, HTTP_AUTHORIZATION=_bearer())
    assert response.status_code == 503
    assert response.json() == UNAVAILABLE


def test_health_names_the_database(database_unreachable, client_no_raise):
    response = client_no_raise.get("/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["services"]["database"].startswith("unreachable")
    assert body["services"]["redis"] == "ok"
    assert b"127.0.0.1" not in response.content
