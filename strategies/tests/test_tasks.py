import pytest
from django_redis import get_redis_connection

from strategies import registry
from strategies.tasks import registry_reconcile
from subscriptions.tests.factories import SubscriptionFactory

pytestmark = pytest.mark.django_db


def test_reconcile_mends_a_registry_that_drifted_from_the_database():
    live = SubscriptionFactory().strategy
    cancelled = SubscriptionFactory(is_active=False).strategy
    # Drift: the live strategy's registration was lost, the cancelled one's was left behind.
    get_redis_connection("default").flushdb()
    registry.registry_register(strategy_id=cancelled.id, symbol="ETHUSDT", resolution=15)

    assert registry_reconcile.delay().get() == 1

    assert registry.registry_active_candles() == {"BTCUSDT:5"}
    assert registry.registry_strategy_ids(symbol="BTCUSDT", resolution=5) == {str(live.id)}
    assert registry.registry_strategy_ids(symbol="ETHUSDT", resolution=15) == set()
