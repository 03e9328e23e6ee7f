"""The broker page: connect keys (test, then store), see the status, disconnect; and
the balance the subscribe modal checks."""

import pytest
from rest_framework.throttling import ScopedRateThrottle

from accounts.models import BrokerCredential
from accounts.services import broker_credential_open
from accounts.tests.factories import BrokerCredentialFactory, UserFactory
from marketdata.exchange_standin import CCXT_OPTIONS, StandInExchange
from subscriptions.tests.factories import SubscriptionFactory

from .client import NUMBER, assert_shape, signed_in

pytestmark = pytest.mark.django_db

KEYS = {"apiKey": "spa-key-0123456789", "apiSecret": "spa-secret-never-shown-9876"}


def test_connect_see_status_and_disconnect(orders_worker_keys):
    me = UserFactory()
    spa = signed_in(me)
    assert spa.get("/api/broker/status").json() == {
        "connected": False,
        "message": "No broker credentials found",
    }
    tested = spa.post("/api/broker/test", KEYS)
    assert tested.status_code == 200
    assert tested.json()["success"] is True
    stored = spa.post("/api/broker/keys", KEYS)
    assert stored.status_code == 200, stored.content
    assert KEYS["apiSecret"].encode() not in stored.content
    assert KEYS["apiKey"].encode() not in stored.content
    credential = BrokerCredential.objects.get(user=me)
    assert credential.broker_name == "paper"
    # Sealed at rest, as every credential: only the orders worker's key opens it.
    assert KEYS["apiKey"] not in credential.api_key_sealed
    assert KEYS["apiSecret"] not in credential.api_secret_sealed
    assert broker_credential_open(credential=credential).api_key == KEYS["apiKey"]
    assert credential.api_key_last4 == KEYS["apiKey"][-4:]

    status = spa.get("/api/broker/status").json()
    assert_shape(status, {"connected": bool, "brokerName": str, "connectedAt": str})
    assert status["connected"] is True

    listed = spa.get("/api/broker/credentials").json()["credentials"]
    assert [row["id"] for row in listed] == [str(credential.id)]
    assert KEYS["apiSecret"] not in str(listed)

    removed = spa.delete("/api/broker/keys")
    assert removed.status_code == 200
    assert spa.get("/api/broker/status").json()["connected"] is False
    again = spa.delete("/api/broker/keys")
    assert again.status_code == 404
    assert again.json() == {"error": "No broker credentials found to delete"}


def test_keys_are_required_with_a_sentence():
    response = signed_in(UserFactory()).post("/api/broker/keys", {"apiKey": "only-a-key"})
    assert response.status_code == 400
    assert response.json()["error"] == "apiSecret is required"


def test_disconnect_is_refused_while_a_subscription_trades_with_the_keys():
    me = UserFactory()
    credential = BrokerCredentialFactory(user=me)
    spare = BrokerCredentialFactory(user=me)
    SubscriptionFactory(user=me, broker_credential=credential, is_paused=True)
    response = signed_in(me).delete("/api/broker/keys")
    assert response.status_code == 400
    assert response.json() == {"error": "Broker credential is used by an active subscription"}
    # All or nothing: the spare one is still active too.
    spare.refresh_from_db()
    assert spare.is_active


def test_the_balance_of_a_paper_account(settings):
    settings.SPA_PAPER_BALANCE = 25000
    me = UserFactory()
    BrokerCredentialFactory(user=me)
    response = signed_in(me).get("/api/broker/futures-balance")
    assert response.status_code == 200
    body = response.json()
    assert_shape(
        body,
        {
            "totalAvailable": NUMBER,
            "usdtAvailable": NUMBER,
            "inrAvailable": NUMBER,
            "wallets": list,
            "currency": str,
        },
    )
    assert body["totalAvailable"] == 25000
    assert body["currency"] == "USDT"


def test_the_balance_is_throttled_per_user(monkeypatch):
    """A stale look may hold a web worker while the orders worker reads the exchange: a
    user cannot send them without bound."""
    monkeypatch.setattr(
        ScopedRateThrottle,
        "THROTTLE_RATES",
        {**ScopedRateThrottle.THROTTLE_RATES, "balance": "3/min"},
    )
    me, other = UserFactory(), UserFactory()
    BrokerCredentialFactory(user=me)
    BrokerCredentialFactory(user=other)
    mine = signed_in(me)
    statuses = [mine.get("/api/broker/futures-balance").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert signed_in(other).get("/api/broker/futures-balance").status_code == 200


def test_no_balance_without_a_credential_and_no_key_opened_here():
    me = UserFactory()
    spa = signed_in(me)
    missing = spa.get("/api/broker/futures-balance")
    assert missing.status_code == 404
    assert missing.json()["error"].startswith("No active broker credentials found")
    BrokerCredentialFactory(user=me, broker_name="binance")
    exchange = spa.get("/api/broker/futures-balance")
    assert exchange.status_code == 503  # never read, and only the orders worker may read it
    assert exchange.json()["error"] == (
        "The balance of this binance account has not been read yet "
        "(the orders worker is not available); try again in a moment"
    )


def test_keys_go_to_the_configured_broker(exchange):
    me = UserFactory()
    response = signed_in(me).post("/api/broker/keys", KEYS)
    assert response.status_code == 200
    assert response.json()["credential"]["brokerName"] == "binanceusdm"


@pytest.fixture
def exchange(settings):
    with StandInExchange(accounts={KEYS["apiKey"]: KEYS["apiSecret"]}) as standin:
        settings.SPA_BROKER = "binanceusdm"
        settings.CCXT_API_URL = standin.url
        settings.CCXT_OPTIONS = CCXT_OPTIONS
        yield standin


def test_the_connection_test_asks_the_exchange(exchange):
    spa = signed_in(UserFactory())
    accepted = spa.post("/api/broker/test", KEYS)
    assert accepted.status_code == 200, accepted.content
    refused = spa.post("/api/broker/test", {**KEYS, "apiKey": "wrong-key-0000"})
    assert refused.status_code == 400
    assert refused.json()["error"] == "The exchange refused this API key and secret"
    assert KEYS["apiSecret"] not in refused.json()["error"]
    assert any(request["path"] == "/fapi/v3/account" for request in exchange.requests)
