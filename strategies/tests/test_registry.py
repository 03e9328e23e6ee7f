import pytest
from django_redis import get_redis_connection

from strategies import registry
from strategies.tests.factories import StrategyFactory
from subscriptions.tests.factories import SubscriptionFactory

pytestmark = pytest.mark.django_db


def _members(key):
    return {m.decode() for m in get_redis_connection("default").smembers(key)}


def test_register_and_unregister_use_the_seed_keys():
    registry.registry_register(strategy_id="s1", symbol="btcusdt", resolution=5)
    registry.registry_register(strategy_id="s2", symbol="BTCUSDT", resolution=5)
    assert _members("candle:BTCUSDT:5:strategies") == {"s1", "s2"}
    assert _members("active:candles") == {"BTCUSDT:5"}
    registry.registry_unregister(strategy_id="s1", symbol="BTCUSDT", resolution=5)
    assert _members("active:candles") == {"BTCUSDT:5"}
    registry.registry_unregister(strategy_id="s2", symbol="BTCUSDT", resolution=5)
    assert _members("active:candles") == set()
    assert registry.registry_active_candles() == set()


def test_move_changes_the_candle():
    registry.registry_register(strategy_id="s1", symbol="BTCUSDT", resolution=5)
    registry.registry_move(
        strategy_id="s1", old_symbol="BTCUSDT", old_resolution=5, symbol="ETHUSDT", resolution=15
    )
    assert registry.registry_active_candles() == {"ETHUSDT:15"}
    assert registry.registry_strategy_ids(symbol="ETHUSDT", resolution=15) == {"s1"}


def test_rebuild_after_flushdb_repopulates_from_the_database():
    live = SubscriptionFactory().strategy
    SubscriptionFactory(is_active=False)  # a cancelled subscription registers nothing
    StrategyFactory()  # nor does a strategy without subscribers
    get_redis_connection("default").flushdb()
    registry._local_clear()
    assert registry.registry_active_candles() == set()
    registry.registry_rebuild()
    assert registry.registry_active_candles() == {"BTCUSDT:5"}
    assert registry.registry_strategy_ids(symbol="BTCUSDT", resolution=5) == {str(live.id)}
