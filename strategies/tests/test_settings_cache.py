import pytest

from strategies.settings_cache import strategy_settings_get, strategy_settings_invalidate
from strategies.tests.factories import StrategyFactory

pytestmark = pytest.mark.django_db


def test_settings_are_cached_until_invalidated(django_assert_num_queries):
    strategy = StrategyFactory()
    with django_assert_num_queries(1):
        first = strategy_settings_get(strategy_id=strategy.id)
        assert strategy_settings_get(strategy_id=strategy.id) == first
    assert first["symbol"] == "BTCUSDT"
    assert first["lookbackPeriod"] == 50
    strategy.execution_config = {**strategy.execution_config, "lookbackPeriod": 20}
    strategy.save()
    strategy_settings_invalidate(strategy_id=strategy.id)
    assert strategy_settings_get(strategy_id=strategy.id)["lookbackPeriod"] == 20
