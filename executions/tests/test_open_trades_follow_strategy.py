"""Issue 12, item 8: open trades follow their strategy. A change of the strategy's candle
is refused while trades are open, so is its deletion; cancelling a subscription closes its
open trades at the next candle close unless the request keeps them, and says so."""

import pytest

from executions.tests.factories import TradeFactory
from strategies.registry import registry_rebuild, registry_strategy_ids
from strategies.services import strategy_deactivate
from strategies.tests.factories import StrategyFactory
from subscriptions.tests.factories import SubscriptionFactory
from tradeplatform.api import ApplicationError

pytestmark = pytest.mark.django_db

STRATEGIES = "/api/strategy-upload/strategies"
SUBSCRIPTIONS = "/api/strategies/subscriptions"


def _strategy_url(strategy) -> str:
    return f"{STRATEGIES}/{strategy.id}"


@pytest.mark.parametrize("change", [{"symbol": "ETHUSDT"}, {"resolution": 15}])
def test_a_new_candle_is_refused_while_trades_are_open(auth_client, user, change):
    strategy = StrategyFactory(user=user)
    TradeFactory.create_batch(2, subscription=SubscriptionFactory(strategy=strategy))
    response = auth_client.patch(
        _strategy_url(strategy), {"executionConfig": change}, format="json"
    )
    assert response.status_code == 400, response.content
    assert response.json()["error"] == (
        "Cannot change executionConfig.symbol or resolution while 2 trade(s) are open on "
        "BTCUSDT:5: they are watched on that candle. Change it once they have closed (an "
        "EXIT signal closes them at the next close)."
    )
    strategy.refresh_from_db()
    assert (strategy.symbol, strategy.resolution) == ("BTCUSDT", 5)


def test_the_rest_of_the_config_may_change_with_trades_open(auth_client, user):
    strategy = StrategyFactory(user=user)
    TradeFactory(subscription=SubscriptionFactory(strategy=strategy))
    response = auth_client.patch(
        _strategy_url(strategy),
        {"executionConfig": {"symbol": "btcusdt", "lookbackPeriod": 30}},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["strategy"]["executionConfig"]["lookbackPeriod"] == 30


def test_a_new_candle_is_accepted_once_the_trades_are_closed(auth_client, user):
    strategy = StrategyFactory(user=user)
    TradeFactory(subscription=SubscriptionFactory(strategy=strategy), status="CLOSED")
    response = auth_client.patch(
        _strategy_url(strategy), {"executionConfig": {"symbol": "ETHUSDT"}}, format="json"
    )
    assert response.status_code == 200, response.content


def test_deleting_a_strategy_with_open_trades_is_refused_even_when_forced(auth_client, user):
    strategy = StrategyFactory(user=user)
    cancelled = SubscriptionFactory(strategy=strategy, is_active=False, keep_open_trades=True)
    TradeFactory(subscription=cancelled)
    response = auth_client.delete(_strategy_url(strategy))
    assert response.status_code == 400
    assert response.json()["error"].startswith(
        "Cannot delete a strategy with 1 open trade(s) on BTCUSDT:5"
    )
    with pytest.raises(ApplicationError, match="open trade"):
        strategy_deactivate(strategy=strategy, force=True)
    strategy.refresh_from_db()
    assert strategy.is_active


def _cancelled(subscription, response) -> tuple[int, bool]:
    """(open trades, kept) as answered, once the row agrees it is cancelled and kept so."""
    body = response.json()
    subscription.refresh_from_db()
    assert not subscription.is_active
    assert subscription.keep_open_trades is body["openTradesKept"]
    return body["openTrades"], body["openTradesKept"]


def test_cancelling_closes_the_open_trades_at_the_next_close_by_default(
    auth_client, user, django_capture_on_commit_callbacks
):
    subscription = SubscriptionFactory(user=user)
    TradeFactory(subscription=subscription)
    with django_capture_on_commit_callbacks(execute=True):
        response = auth_client.delete(f"{SUBSCRIPTIONS}/{subscription.id}")
    assert response.json()["message"] == (
        "Subscription cancelled; its 1 open trade(s) close at the next BTCUSDT:5 candle close"
    )
    assert _cancelled(subscription, response) == (1, False)
    # The strategy keeps running at its closes until that trade is settled.
    strategy_id = str(subscription.strategy_id)
    assert registry_strategy_ids(symbol="BTCUSDT", resolution=5) == {strategy_id}


def test_cancelling_may_keep_the_open_trades_following_the_strategy(auth_client, user):
    subscription = SubscriptionFactory(user=user)
    TradeFactory.create_batch(2, subscription=subscription)
    response = auth_client.delete(f"{SUBSCRIPTIONS}/{subscription.id}?keepOpenTrades=true")
    assert response.json()["message"] == (
        "Subscription cancelled; its 2 open trade(s) stay open and follow the strategy "
        "(stop-loss, take-profit, its exit signals) until they close"
    )
    assert _cancelled(subscription, response) == (2, True)
    bad = auth_client.delete(f"{SUBSCRIPTIONS}/{subscription.id}?keepOpenTrades=maybe")
    assert bad.status_code == 400


def test_without_open_trades_the_last_cancel_unregisters(
    auth_client, user, django_capture_on_commit_callbacks
):
    subscription = SubscriptionFactory(user=user)
    TradeFactory(subscription=subscription, status="CLOSED")
    registry_rebuild()
    assert registry_strategy_ids(symbol="BTCUSDT", resolution=5) == {str(subscription.strategy_id)}
    with django_capture_on_commit_callbacks(execute=True):
        auth_client.delete(f"{SUBSCRIPTIONS}/{subscription.id}")
    assert registry_strategy_ids(symbol="BTCUSDT", resolution=5) == set()
