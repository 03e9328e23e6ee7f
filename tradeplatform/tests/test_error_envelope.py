import pytest
from django.db import OperationalError
from rest_framework.permissions import AllowAny
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView


class _Boom(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        raise RuntimeError("secret internals must not leak")


class _NoDatabase(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        raise OperationalError("connection refused")


def test_404_for_unknown_path(api_client):
    response = api_client.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.json() == {"error": "Not found"}


@pytest.mark.django_db
def test_405_for_wrong_method(api_client):
    response = api_client.get("/auth/login")
    assert response.status_code == 405
    assert response.json() == {"error": 'Method "GET" not allowed.'}


@pytest.mark.django_db
def test_400_for_malformed_json(api_client):
    response = api_client.post("/auth/login", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"].startswith("JSON parse error")


def test_uncaught_error_answers_500_without_a_traceback():
    request = APIRequestFactory().get("/boom")
    response = _Boom.as_view()(request)
    response.render()
    assert response.status_code == 500
    assert response.data == {"error": "Internal server error"}
    assert b"secret internals" not in response.content


def test_database_down_answers_503():
    request = APIRequestFactory().get("/db")
    response = _NoDatabase.as_view()(request)
    assert response.status_code == 503
    assert response.data["error"].startswith("Service unavailable")


@pytest.mark.django_db
def test_body_over_the_upload_limit_answers_400(api_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = '{"email": "a@example.com", "password": "' + "x" * 2000 + '"}'
    response = api_client.post("/auth/login", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"error": "Request body is larger than 1000 bytes"}


def test_suspicious_request_outside_drf_answers_400_json(settings):
    from django.test import Client

    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 5
    client = Client(raise_request_exception=False)
    form = {f"field{n}": "x" for n in range(10)}
    response = client.post("/admin/login/", form)
    assert response.status_code == 400
    assert response.json() == {"error": "Bad request"}
