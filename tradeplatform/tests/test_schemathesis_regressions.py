"""What the schemathesis run (test_schemathesis.py) found, one test each, so a fix that
comes undone fails here fast and by name."""

import pytest

from executions.tests.factories import TradeFactory
from subscriptions.tests.factories import SubscriptionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(api_client):
    return api_client.get("/api/schema/?format=json").json()


def test_an_open_trade_says_null_for_its_exit_reason(auth_client, user, schema):
    subscription = SubscriptionFactory(user=user)
    TradeFactory(subscription=subscription)  # open: its exit_reason column is blank
    body = auth_client.get(f"/api/strategies/subscriptions/{subscription.id}/trades").json()
    assert body["trades"][0]["exitReason"] is None
    exit_reason = schema["components"]["schemas"]["Trade"]["properties"]["exitReason"]
    assert exit_reason.get("nullable") or any(
        "NullEnum" in str(option) for option in exit_reason.get("oneOf", [])
    )


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/api/strategy-upload/strategies", "get"),
        ("/api/strategies/subscriptions", "get"),
        ("/api/broker-credentials", "get"),
        ("/api/strategy-upload/strategies/{id}", "delete"),
        ("/api/strategies/subscriptions/{id}", "delete"),
        ("/api/broker-credentials/{id}", "delete"),
    ],
)
def test_lists_and_deletes_document_their_400(schema, path, method):
    assert "400" in schema["paths"][path][method]["responses"]


@pytest.mark.parametrize(
    "path", ["/api/strategy-upload/strategies", "/api/strategies/subscriptions"]
)
def test_empty_filters_are_documented_and_mean_no_filter(auth_client, schema, path):
    parameters = schema["paths"][path]["get"]["parameters"]
    status = next(parameter for parameter in parameters if parameter["name"] == "status")
    assert status["allowEmptyValue"] is True
    assert auth_client.get(f"{path}?status=").status_code == 200
    assert auth_client.get(f"{path}?status=bogus").status_code == 400
