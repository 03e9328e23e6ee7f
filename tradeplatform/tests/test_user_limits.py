"""Per-user quotas (strategies, active subscriptions) and the upload throttle."""

import itertools

import pytest

from accounts.tests.factories import BrokerCredentialFactory, UserFactory
from strategies import services as strategy_services
from strategies.models import Strategy
from strategies.tests.factories import HOLD_SOURCE, StrategyFactory
from subscriptions.models import StrategySubscription
from subscriptions.tests.factories import SubscriptionFactory
from tradeplatform.api import ApplicationError
from tradeplatform.tests.helpers import THREADS, race

URL = "/api/strategy-upload/strategies"


def _upload(client, code: str):
    body = {
        "name": code,
        "code": code,
        "strategyCode": HOLD_SOURCE,
        "executionConfig": {"symbol": "BTCUSDT", "resolution": 5},
    }
    return client.post(URL, body, format="json")


def _subscribe(client, strategy, credential):
    body = {"capital": 1000, "riskPerTrade": 0.01, "brokerCredentialId": str(credential.id)}
    return client.post(f"/api/strategies/{strategy.id}/subscribe", body, format="json")


def test_default_limits(settings):
    assert settings.MAX_STRATEGIES_PER_USER == 50
    assert settings.MAX_SUBSCRIPTIONS_PER_USER == 100


@pytest.mark.django_db
def test_strategy_limit(auth_client, other_client, user, settings):
    settings.MAX_STRATEGIES_PER_USER = 3
    StrategyFactory.create_batch(3, user=user)
    refused = _upload(auth_client, "one-too-many")
    assert refused.status_code == 400
    assert refused.json() == {"error": "Strategy limit reached (3)"}
    assert not Strategy.objects.filter(code="one-too-many").exists()
    # Another author is not affected, and a deleted strategy frees a place.
    assert _upload(other_client, "someone-else").status_code == 201
    Strategy.objects.filter(user=user).first().delete()
    assert _upload(auth_client, "fits-again").status_code == 201


@pytest.mark.django_db
def test_soft_deleted_strategies_do_not_count(auth_client, user, settings):
    settings.MAX_STRATEGIES_PER_USER = 1
    StrategyFactory(user=user, is_active=False)
    assert _upload(auth_client, "fresh").status_code == 201


@pytest.mark.django_db
def test_subscription_limit(auth_client, user, settings):
    settings.MAX_SUBSCRIPTIONS_PER_USER = 2
    credential = BrokerCredentialFactory(user=user)
    SubscriptionFactory(user=user, broker_credential=credential)
    SubscriptionFactory(user=user, broker_credential=credential, is_paused=True)
    SubscriptionFactory(user=user, broker_credential=credential, is_active=False)  # cancelled
    refused = _subscribe(auth_client, StrategyFactory(), credential)
    assert refused.status_code == 400
    assert refused.json() == {"error": "Subscription limit reached (2)"}
    assert StrategySubscription.objects.filter(user=user, is_active=True).count() == 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_uploads_cannot_pass_the_limit_together(settings):
    settings.MAX_STRATEGIES_PER_USER = 2
    author = UserFactory()
    StrategyFactory(user=author)
    codes = itertools.count()

    def upload():
        code = f"race-{next(codes)}"
        return strategy_services.strategy_create(
            user=author,
            name=code,
            code=code,
            strategy_code=HOLD_SOURCE,
            execution_config={"symbol": "BTCUSDT", "resolution": 5},
        )

    outcomes = race(upload)
    refused = [o.message for o in outcomes if isinstance(o, ApplicationError)]
    assert refused == ["Strategy limit reached (2)"] * (THREADS - 1)
    assert Strategy.objects.filter(user=author).count() == 2


@pytest.mark.django_db
def test_upload_throttle_at_its_configured_rate(auth_client, other_client):
    # 30 uploads an hour (THROTTLE_STRATEGY_UPLOAD): refused bodies count too, so that
    # probing the validator is throttled like uploading.
    statuses = [auth_client.post(URL, {}, format="json").status_code for _ in range(31)]
    assert statuses == [400] * 30 + [429]
    throttled = auth_client.post(URL, {}, format="json")
    assert throttled.json()["error"].startswith("Request was throttled")
    assert int(throttled.headers["Retry-After"]) > 0
    # Per user, and reads are not throttled.
    assert other_client.post(URL, {}, format="json").status_code == 400
    assert auth_client.get(URL).status_code == 200
