"""The pagination envelope: `page` and `limit` are checked, never a 404 or a 500."""

import pytest
from rest_framework import generics, serializers
from rest_framework.permissions import AllowAny
from rest_framework.test import APIRequestFactory

from accounts.models import User
from accounts.tests.factories import UserFactory
from tradeplatform.api import EnvelopePagination

pytestmark = pytest.mark.django_db


class _EmailSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["email"]


class _Users(generics.ListAPIView):
    permission_classes = [AllowAny]
    serializer_class = _EmailSerializer
    envelope_key = "users"

    def get_queryset(self):
        return User.objects.order_by("email")


def _get(query: str):
    response = _Users.as_view()(APIRequestFactory().get(f"/users?{query}"))
    response.render()
    return response


@pytest.fixture
def five_users():
    return UserFactory.create_batch(5)


def test_page_and_limit(five_users):
    body = _get("page=2&limit=2").data
    assert len(body["users"]) == 2
    assert body["pagination"] == {"page": 2, "limit": 2, "total": 5, "pages": 3}


def test_defaults(five_users):
    assert _get("").data["pagination"] == {"page": 1, "limit": 50, "total": 5, "pages": 1}


def test_a_page_past_the_last_is_empty_not_404(five_users):
    response = _get("page=99999999999&limit=2")
    assert response.status_code == 200
    assert response.data["users"] == []
    assert response.data["pagination"] == {"page": 99999999999, "limit": 2, "total": 5, "pages": 3}


def test_an_empty_list():
    response = _get("page=3")
    assert response.status_code == 200
    assert response.data["users"] == []


def test_limit_is_capped_at_1000(five_users):
    assert _get("limit=5000").data["pagination"]["limit"] == 1000


@pytest.mark.parametrize(
    "query",
    [
        "page=0",
        "page=-1",
        "page=abc",
        "page=1.5",
        "page=last",
        "page=1&page=2",
        "limit=0",
        "limit=-3",
        "limit=x",
        "limit=5&limit=",
    ],
)
def test_bad_page_or_limit_answers_400(five_users, query):
    response = _get(query)
    assert response.status_code == 400
    name = query.split("=")[0]
    assert response.data == {
        "error": f"{name} must be a whole number of at least 1",
        "details": {name: [f"{name} must be a whole number of at least 1"]},
    }


def test_documented_parameters():
    parameters = {
        p["name"]: p["schema"] for p in EnvelopePagination().get_schema_operation_parameters(None)
    }
    assert parameters["page"]["minimum"] == parameters["limit"]["minimum"] == 1
