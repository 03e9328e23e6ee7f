import logging

import pytest

from accounts.models import BrokerCredential
from accounts.services import broker_credential_open
from accounts.tests.factories import BrokerCredentialFactory
from marketdata.exchange_standin import CCXT_OPTIONS, Fault, StandInExchange
from subscriptions.tests.factories import SubscriptionFactory

pytestmark = pytest.mark.django_db

URL = "/api/broker-credentials"
KEY = "KEY-abcdef-0123456789-WXYZ"
SECRET = "s3cr3t-do-not-show-0123456789"


@pytest.fixture
def exchange(settings):
    with StandInExchange(accounts={KEY: SECRET}) as standin:
        settings.CCXT_API_URL = standin.url
        settings.CCXT_OPTIONS = CCXT_OPTIONS
        yield standin


def _assert_error(response, status_code: int) -> dict:
    assert response.status_code == status_code, response.content
    body = response.json()
    assert isinstance(body["error"], str) and body["error"]
    return body


def test_create_checks_the_key_and_never_answers_it(
    auth_client, user, caplog, exchange, orders_worker_keys
):
    caplog.set_level(logging.DEBUG)
    body = {"brokerName": "BinanceUSDM", "apiKey": KEY, "apiSecret": SECRET}
    response = auth_client.post(URL, body, format="json")
    assert response.status_code == 201, response.content
    credential = response.json()["credential"]
    assert credential["brokerName"] == "binanceusdm"
    assert credential["apiKeyLast4"] == "WXYZ"
    assert credential["isActive"] is True
    assert set(credential) == {
        "id", "brokerName", "apiKeyLast4", "isActive", "inactiveReason", "createdAt"
    }  # fmt: skip
    assert SECRET not in response.content.decode()
    assert "KEY-abcdef" not in response.content.decode()
    assert SECRET not in caplog.text and "KEY-abcdef" not in caplog.text
    # One signed read-only call: the balance.
    signed = [r for r in exchange.requests if "signature=" in r["query"]]
    assert [r["path"] for r in signed] == ["/fapi/v3/account"]
    stored = BrokerCredential.objects.get()
    assert stored.user_id == user.id
    assert broker_credential_open(credential=stored).secret == SECRET


@pytest.mark.parametrize(
    ("key", "secret"), [(KEY, "wrong-secret-0123456789"), ("unknown-key-0123456789", SECRET)]
)
def test_a_key_the_exchange_refuses_is_not_saved(auth_client, exchange, caplog, key, secret):
    caplog.set_level(logging.DEBUG)
    body = {"brokerName": "binanceusdm", "apiKey": key, "apiSecret": secret}
    response = auth_client.post(URL, body, format="json")
    answer = _assert_error(response, 400)
    assert answer["error"] == "The exchange refused this API key and secret"
    for text in (response.content.decode(), caplog.text):
        assert key not in text and secret not in text
    assert not BrokerCredential.objects.exists()


def test_an_exchange_that_cannot_answer_saves_nothing(auth_client, exchange):
    exchange.inject(Fault("5xx", path="/fapi/v3/account"))
    body = {"brokerName": "binanceusdm", "apiKey": KEY, "apiSecret": SECRET}
    response = auth_client.post(URL, body, format="json")
    assert "try again" in _assert_error(response, 503)["error"]
    assert SECRET not in response.content.decode()
    assert not BrokerCredential.objects.exists()


def test_paper_needs_no_keys(auth_client):
    response = auth_client.post(URL, {"brokerName": "paper"}, format="json")
    assert response.status_code == 201


@pytest.mark.parametrize(
    "body",
    [
        {"brokerName": "not-an-exchange", "apiKey": "k", "apiSecret": "s"},
        {"brokerName": "binanceusdm", "apiKey": "", "apiSecret": ""},
        {"apiKey": "k", "apiSecret": "s"},
    ],
)
def test_invalid_create_answers_400(auth_client, body):
    assert _assert_error(auth_client.post(URL, body, format="json"), 400)["details"]
    assert not BrokerCredential.objects.exists()


def test_list_shows_mine_only_without_secrets(auth_client, user, other_user):
    mine = BrokerCredentialFactory(user=user, api_secret=SECRET)
    BrokerCredentialFactory(user=other_user)
    response = auth_client.get(URL)
    body = response.json()
    assert [row["id"] for row in body["credentials"]] == [str(mine.id)]
    assert body["credentials"][0]["apiKeyLast4"] == mine.api_key[-4:]
    assert body["pagination"]["total"] == 1
    assert SECRET not in response.content.decode()


@pytest.mark.parametrize("count", [2, 20])
def test_list_runs_a_constant_number_of_queries(
    auth_client, user, count, django_assert_max_num_queries
):
    BrokerCredentialFactory.create_batch(count, user=user)
    with django_assert_max_num_queries(2):
        assert len(auth_client.get(URL).json()["credentials"]) == count


def test_delete_deactivates(auth_client, user):
    credential = BrokerCredentialFactory(user=user)
    SubscriptionFactory(user=user, broker_credential=credential, is_active=False)
    response = auth_client.delete(f"{URL}/{credential.id}")
    assert response.status_code == 200
    assert response.json()["message"]
    credential.refresh_from_db()
    assert credential.is_active is False


def test_delete_is_refused_while_an_active_subscription_uses_it(auth_client, user):
    credential = BrokerCredentialFactory(user=user)
    SubscriptionFactory(user=user, broker_credential=credential)
    _assert_error(auth_client.delete(f"{URL}/{credential.id}"), 400)
    credential.refresh_from_db()
    assert credential.is_active


def test_another_users_credential_is_not_found(other_client, api_client, user):
    credential = BrokerCredentialFactory(user=user)
    _assert_error(other_client.delete(f"{URL}/{credential.id}"), 404)
    _assert_error(other_client.delete(f"{URL}/not-a-uuid"), 404)
    _assert_error(api_client.delete(f"{URL}/{credential.id}"), 401)
    _assert_error(api_client.get(URL), 401)
    credential.refresh_from_db()
    assert credential.is_active


def test_an_unsupported_broker_is_refused_with_the_supported_ones(auth_client):
    response = auth_client.post(URL, {"brokerName": "robinhood"}, format="json")
    assert response.status_code == 400
    message = response.json()["error"]
    assert message.startswith("Unsupported broker: robinhood. Supported: paper (simulated")
    assert "binance" in message and "kraken" in message
    assert response.json()["details"]["brokerName"] == [message]
