"""The candle registry follows the database through the services, against real Redis."""

import pytest
from django.core.management import call_command
from django.db import transaction
from django_redis import get_redis_connection

from accounts.tests.factories import BrokerCredentialFactory
from strategies import registry, services
from strategies.tests.factories import StrategyFactory
from subscriptions.services import subscription_cancel, subscription_create
from subscriptions.tests.factories import SubscriptionFactory

pytestmark = pytest.mark.django_db


def _candles() -> set[str]:
    registry._local_clear()
    return registry.registry_active_candles()


def _ids(symbol="BTCUSDT", resolution=5) -> set[str]:
    registry._local_clear()
    return registry.registry_strategy_ids(symbol=symbol, resolution=resolution)


def _subscribe(strategy, user=None):
    credential = BrokerCredentialFactory(**({"user": user} if user else {}))
    return subscription_create(
        user=credential.user,
        strategy_id=strategy.id,
        broker_credential_id=credential.id,
        capital=10_000,
        risk_per_trade="0.01",
    )


def test_register_on_subscribe_unregister_on_last_cancel(django_capture_on_commit_callbacks):
    strategy = StrategyFactory()
    with django_capture_on_commit_callbacks(execute=True):
        first, second = _subscribe(strategy), _subscribe(strategy)
    assert _ids() == {str(strategy.id)}
    with django_capture_on_commit_callbacks(execute=True):
        subscription_cancel(subscription=first)
    assert _ids() == {str(strategy.id)}
    with django_capture_on_commit_callbacks(execute=True):
        subscription_cancel(subscription=second)
    assert _candles() == set()
    strategy.refresh_from_db()
    assert strategy.subscriber_count == 0


def test_nothing_reaches_redis_when_the_transaction_rolls_back(
    django_capture_on_commit_callbacks,
):
    strategy = StrategyFactory()
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        _subscribe(strategy)
        raise RuntimeError("rolled back")
    assert _candles() == set()
    strategy.refresh_from_db()
    assert strategy.subscriber_count == 0


def test_config_change_moves_the_strategy(django_capture_on_commit_callbacks):
    strategy = StrategyFactory()
    other = SubscriptionFactory(strategy=StrategyFactory()).strategy
    with django_capture_on_commit_callbacks(execute=True):
        _subscribe(strategy)
    registry.registry_register(strategy_id=other.id, symbol="BTCUSDT", resolution=5)
    with django_capture_on_commit_callbacks(execute=True):
        services.strategy_update(
            strategy=strategy, data={"execution_config": {"symbol": "ethusdt", "resolution": "60"}}
        )
    assert _candles() == {"BTCUSDT:5", "ETHUSDT:60"}
    assert _ids() == {str(other.id)}
    assert _ids("ETHUSDT", 60) == {str(strategy.id)}
    with django_capture_on_commit_callbacks(execute=True):
        services.strategy_update(strategy=strategy, data={"description": "no move"})
    assert _ids("ETHUSDT", 60) == {str(strategy.id)}


def test_config_change_without_subscribers_registers_nothing(django_capture_on_commit_callbacks):
    strategy = StrategyFactory()
    with django_capture_on_commit_callbacks(execute=True):
        services.strategy_update(
            strategy=strategy, data={"execution_config": {"symbol": "ETHUSDT"}}
        )
    assert _candles() == set()


def test_operator_deactivate_and_activate(django_capture_on_commit_callbacks):
    strategy = StrategyFactory()
    with django_capture_on_commit_callbacks(execute=True):
        _subscribe(strategy)
    with pytest.raises(services.ApplicationError):
        services.strategy_deactivate(strategy=strategy)
    with django_capture_on_commit_callbacks(execute=True):
        services.strategy_deactivate(strategy=strategy, force=True)
    assert _candles() == set()
    with django_capture_on_commit_callbacks(execute=True):
        services.strategy_activate(strategy=strategy)
    assert _ids() == {str(strategy.id)}


def test_rebuild_registry_command_after_flushdb(django_capture_on_commit_callbacks):
    live = StrategyFactory(execution_config={"symbol": "SOLUSDT", "resolution": 15})
    with django_capture_on_commit_callbacks(execute=True):
        _subscribe(live)
        cancelled = _subscribe(StrategyFactory())
        subscription_cancel(subscription=cancelled)
    assert _candles() == {"SOLUSDT:15"}
    get_redis_connection("default").flushdb()
    assert _candles() == set()
    call_command("rebuild_registry")
    assert _candles() == {"SOLUSDT:15"}
    assert _ids("SOLUSDT", 15) == {str(live.id)}
