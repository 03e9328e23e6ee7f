import uuid
from decimal import Decimal

import pytest

from accounts.tests.factories import BrokerCredentialFactory
from executions.models import Trade
from executions.tests.factories import TradeFactory
from strategies.registry import registry_active_candles, registry_strategy_ids
from strategies.tests.factories import StrategyFactory
from subscriptions.models import StrategySubscription
from subscriptions.tests.factories import SubscriptionFactory

pytestmark = pytest.mark.django_db

LIST_URL = "/api/strategies/subscriptions"


def _subscribe_url(strategy) -> str:
    return f"/api/strategies/{strategy.id}/subscribe"


def _url(subscription, suffix: str = "") -> str:
    return f"{LIST_URL}/{subscription.id}{suffix}"


def _assert_error(response, status_code: int) -> dict:
    assert response.status_code == status_code, response.content
    body = response.json()
    assert isinstance(body["error"], str) and body["error"]
    return body


@pytest.fixture
def credential(user):
    return BrokerCredentialFactory(user=user)


def _body(credential, **overrides) -> dict:
    body = {"capital": 10000, "riskPerTrade": 0.02, "brokerCredentialId": str(credential.id)}
    body.update(overrides)
    return body


# --- subscribe --------------------------------------------------------------------------


def test_subscribe_creates_counts_and_registers(
    auth_client, user, credential, django_capture_on_commit_callbacks
):
    strategy = StrategyFactory()
    with django_capture_on_commit_callbacks(execute=True):
        response = auth_client.post(
            _subscribe_url(strategy), _body(credential, slAtrMultiplier=1.5), format="json"
        )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["message"]
    subscription = body["subscription"]
    assert subscription["capital"] == 10000
    assert subscription["riskPerTrade"] == 0.02
    assert subscription["leverage"] == 10
    assert subscription["maxPositions"] == 1
    assert subscription["maxDailyLoss"] == 0.05
    assert subscription["slAtrMultiplier"] == 1.5
    assert subscription["tpAtrMultiplier"] is None
    assert subscription["strategy"]["id"] == str(strategy.id)
    assert subscription["openTrades"] == 0
    strategy.refresh_from_db()
    assert strategy.subscriber_count == 1
    assert registry_active_candles() == {"BTCUSDT:5"}
    assert registry_strategy_ids(symbol="BTCUSDT", resolution=5) == {str(strategy.id)}


def test_subscribe_to_own_private_strategy(auth_client, user, credential):
    strategy = StrategyFactory(user=user, is_public=False)
    assert auth_client.post(_subscribe_url(strategy), _body(credential)).status_code == 201


def test_second_active_subscription_answers_409(auth_client, credential):
    strategy = StrategyFactory()
    assert auth_client.post(_subscribe_url(strategy), _body(credential)).status_code == 201
    body = _assert_error(auth_client.post(_subscribe_url(strategy), _body(credential)), 409)
    assert body["error"] == "Already subscribed to this strategy"
    strategy.refresh_from_db()
    assert strategy.subscriber_count == 1


def test_subscribe_again_after_cancel(auth_client, user, credential):
    strategy = StrategyFactory()
    SubscriptionFactory(user=user, strategy=strategy, is_active=False)
    assert auth_client.post(_subscribe_url(strategy), _body(credential)).status_code == 201


@pytest.mark.parametrize(
    "strategy_kwargs", [{"is_active": False}, {"is_public": False}], ids=["inactive", "private"]
)
def test_subscribe_to_an_unavailable_strategy_is_404(auth_client, credential, strategy_kwargs):
    strategy = StrategyFactory(**strategy_kwargs)
    body = _assert_error(auth_client.post(_subscribe_url(strategy), _body(credential)), 404)
    assert body["error"] == "Strategy not found"
    assert not StrategySubscription.objects.exists()


@pytest.mark.parametrize("pk", ["00000000-0000-0000-0000-000000000000", "nope"])
def test_subscribe_to_a_missing_strategy_is_404(auth_client, credential, pk):
    response = auth_client.post(f"/api/strategies/{pk}/subscribe", _body(credential))
    _assert_error(response, 404)


@pytest.mark.parametrize(
    "overrides",
    [
        {"capital": 0},
        {"capital": -5},
        {"capital": "abc"},
        {"riskPerTrade": 0},
        {"riskPerTrade": 0.11},
        {"leverage": 0},
        {"leverage": 126},
        {"maxPositions": 0},
        {"maxDailyLoss": 0},
        {"maxDailyLoss": 1.5},
        {"slAtrMultiplier": 0},
        {"tpAtrMultiplier": -1},
        {"brokerCredentialId": "not-a-uuid"},
        {"brokerCredentialId": "00000000-0000-0000-0000-000000000000"},
    ],
)
def test_invalid_risk_settings_answer_400(auth_client, credential, overrides):
    strategy = StrategyFactory()
    response = auth_client.post(_subscribe_url(strategy), _body(credential, **overrides))
    body = _assert_error(response, 400)
    assert body["details"]
    assert not StrategySubscription.objects.exists()


def test_credential_must_be_the_callers_and_active(auth_client, user, other_user):
    strategy = StrategyFactory()
    for credential in (
        BrokerCredentialFactory(user=other_user),
        BrokerCredentialFactory(user=user, is_active=False),
    ):
        response = auth_client.post(_subscribe_url(strategy), _body(credential))
        assert "brokerCredentialId" in _assert_error(response, 400)["details"]


def test_subscribe_ignores_mass_assignment(auth_client, user, other_user, credential):
    strategy = StrategyFactory()
    body = _body(credential, totalPnl=1e6, userId=str(other_user.id), totalTrades=9, isPaused=True)
    assert auth_client.post(_subscribe_url(strategy), body, format="json").status_code == 201
    subscription = StrategySubscription.objects.get()
    assert subscription.user_id == user.id
    assert subscription.total_pnl == 0
    assert subscription.total_trades == 0
    assert subscription.is_paused is False


def test_subscribe_needs_a_signed_in_user(api_client):
    _assert_error(api_client.post(_subscribe_url(StrategyFactory()), {}), 401)


# --- list, detail, stats ----------------------------------------------------------------


def test_list_shows_only_mine_newest_first(auth_client, user, other_user):
    older = SubscriptionFactory(user=user)
    newer = SubscriptionFactory(user=user)
    SubscriptionFactory(user=other_user)
    body = auth_client.get(LIST_URL).json()
    assert [row["id"] for row in body["subscriptions"]] == [str(newer.id), str(older.id)]
    assert body["pagination"]["total"] == 2
    strategy = body["subscriptions"][0]["strategy"]
    assert set(strategy) == {"id", "name", "executionConfig"}


def test_list_status_filter(auth_client, user):
    running = SubscriptionFactory(user=user)
    paused = SubscriptionFactory(user=user, is_paused=True)
    cancelled = SubscriptionFactory(user=user, is_active=False)
    for status, expected in (("active", running), ("paused", paused), ("cancelled", cancelled)):
        rows = auth_client.get(LIST_URL, {"status": status}).json()["subscriptions"]
        assert [row["id"] for row in rows] == [str(expected.id)]


@pytest.mark.parametrize("count", [2, 25])
def test_list_runs_a_constant_number_of_queries(
    auth_client, user, count, django_assert_max_num_queries
):
    for subscription in SubscriptionFactory.create_batch(count, user=user):
        TradeFactory(subscription=subscription)
    with django_assert_max_num_queries(2):
        response = auth_client.get(LIST_URL, {"limit": 1000})
    rows = response.json()["subscriptions"]
    assert len(rows) == count
    assert all(row["openTrades"] == 1 for row in rows)


def test_list_counts_only_each_subscriptions_own_open_trades(auth_client, user):
    busy, idle = SubscriptionFactory(user=user), SubscriptionFactory(user=user)
    TradeFactory.create_batch(2, subscription=busy)
    TradeFactory.create_batch(3, subscription=busy, status=Trade.Status.CLOSED)
    TradeFactory(subscription=idle, status=Trade.Status.CLOSED)
    TradeFactory()  # someone else's open trade
    body = auth_client.get(LIST_URL).json()
    assert {row["id"]: row["openTrades"] for row in body["subscriptions"]} == {
        str(busy.id): 2,
        str(idle.id): 0,
    }
    assert body["pagination"]["total"] == 2


def test_stats(auth_client, user):
    subscription = SubscriptionFactory(
        user=user, total_trades=5, winning_trades=3, losing_trades=1, total_pnl=Decimal("123.45")
    )
    TradeFactory(subscription=subscription)
    TradeFactory(subscription=subscription, status=Trade.Status.CLOSED, pnl=Decimal("5"))
    response = auth_client.get(_url(subscription, "/stats"))
    assert response.status_code == 200
    body = response.json()
    assert body["subscription"]["id"] == str(subscription.id)
    assert body["stats"] == {
        "totalTrades": 5,
        "winningTrades": 3,
        "losingTrades": 1,
        "winRate": 0.75,
        "totalPnl": 123.45,
        "openTrades": 1,
    }


def test_stats_win_rate_is_zero_without_closed_trades(auth_client, user):
    subscription = SubscriptionFactory(user=user)
    assert auth_client.get(_url(subscription, "/stats")).json()["stats"]["winRate"] == 0


# --- another user's subscription --------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("get", ""),
        ("get", "/stats"),
        ("get", "/trades"),
        ("post", "/pause"),
        ("post", "/resume"),
        ("put", ""),
        ("patch", ""),
        ("delete", ""),
    ],
)
def test_another_users_subscription_is_not_found(other_client, api_client, user, method, suffix):
    subscription = SubscriptionFactory(user=user, is_paused=suffix == "/resume")
    TradeFactory(subscription=subscription)
    response = getattr(other_client, method)(_url(subscription, suffix), {"capital": 1})
    body = _assert_error(response, 404)
    assert body["error"] == "Subscription not found"
    _assert_error(getattr(api_client, method)(_url(subscription, suffix)), 401)
    subscription.refresh_from_db()
    assert subscription.is_active and subscription.capital == 10000


@pytest.mark.parametrize("pk", ["nope", "00000000-0000-0000-0000-000000000000"])
def test_malformed_or_missing_subscription_id_is_404(auth_client, pk):
    _assert_error(auth_client.get(f"{LIST_URL}/{pk}/stats"), 404)
    _assert_error(auth_client.get(f"{LIST_URL}/{pk}/trades"), 404)
    _assert_error(auth_client.delete(f"{LIST_URL}/{pk}"), 404)


# --- pause, resume ----------------------------------------------------------------------


def test_pause_and_resume(auth_client, user):
    subscription = SubscriptionFactory(user=user)
    response = auth_client.post(_url(subscription, "/pause"))
    assert response.status_code == 200 and response.json()["message"]
    subscription.refresh_from_db()
    assert subscription.is_paused and subscription.paused_at is not None
    body = _assert_error(auth_client.post(_url(subscription, "/pause")), 400)
    assert body["error"] == "Subscription is already paused"
    assert auth_client.post(_url(subscription, "/resume")).status_code == 200
    subscription.refresh_from_db()
    assert not subscription.is_paused and subscription.paused_at is None
    body = _assert_error(auth_client.post(_url(subscription, "/resume")), 400)
    assert body["error"] == "Subscription is not paused"


def test_pause_or_resume_of_a_cancelled_subscription_is_refused(auth_client, user):
    subscription = SubscriptionFactory(user=user, is_active=False)
    for suffix in ("/pause", "/resume"):
        body = _assert_error(auth_client.post(_url(subscription, suffix)), 400)
        assert body["error"] == "Subscription is cancelled"


# --- update -----------------------------------------------------------------------------


def test_update_risk_settings_with_a_partial_put(auth_client, user):
    subscription = SubscriptionFactory(user=user)
    response = auth_client.put(_url(subscription), {"leverage": 20}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["message"]
    assert body["subscription"]["leverage"] == 20
    assert body["subscription"]["capital"] == 10000
    subscription.refresh_from_db()
    assert subscription.leverage == 20


def test_update_refuses_fields_it_does_not_take_naming_them(auth_client, user, other_user):
    subscription = SubscriptionFactory(user=user)
    other_strategy = StrategyFactory()
    body = {
        "capital": 500,
        "totalPnl": 99999,
        "userId": str(other_user.id),
        "strategyId": str(other_strategy.id),
        "isActive": False,
        "winningTrades": 7,
        "riskPertrade": 0.02,
    }
    response = auth_client.patch(_url(subscription), body, format="json")
    _assert_error(response, 400)
    message = response.json()["error"]
    assert message.startswith(
        "Unknown or read-only fields: isActive, riskPertrade, strategyId, totalPnl, userId, "
        "winningTrades (writable: capital, riskPerTrade,"
    )
    assert "brokerCredentialId" in message
    subscription.refresh_from_db()
    assert subscription.capital != 500
    assert subscription.strategy_id != other_strategy.id
    assert subscription.is_active
    changed = auth_client.patch(_url(subscription), {"capital": 500}, format="json")
    assert changed.status_code == 200
    subscription.refresh_from_db()
    assert subscription.capital == 500


def test_update_moves_the_subscription_to_another_own_credential(auth_client, user):
    subscription = SubscriptionFactory(user=user)
    other_credential = BrokerCredentialFactory(user=user)
    response = auth_client.patch(
        _url(subscription), {"brokerCredentialId": str(other_credential.id)}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["subscription"]["brokerCredentialId"] == str(other_credential.id)
    subscription.refresh_from_db()
    assert subscription.broker_credential_id == other_credential.id


def test_update_to_someone_elses_or_an_unknown_credential_is_404(auth_client, user, other_user):
    subscription = SubscriptionFactory(user=user)
    before = subscription.broker_credential_id
    for credential_id in (BrokerCredentialFactory(user=other_user).id, uuid.uuid4()):
        response = auth_client.patch(
            _url(subscription), {"brokerCredentialId": str(credential_id)}, format="json"
        )
        _assert_error(response, 404)
        assert response.json()["error"] == "Broker credential not found"
    subscription.refresh_from_db()
    assert subscription.broker_credential_id == before


def test_update_to_an_inactive_credential_or_with_open_trades_is_refused(auth_client, user):
    subscription = SubscriptionFactory(user=user)
    inactive = BrokerCredentialFactory(user=user, is_active=False)
    refused = auth_client.patch(
        _url(subscription), {"brokerCredentialId": str(inactive.id)}, format="json"
    )
    _assert_error(refused, 400)
    assert refused.json()["error"] == "Broker credential is inactive"
    TradeFactory(subscription=subscription)  # open
    busy = auth_client.patch(
        _url(subscription),
        {"brokerCredentialId": str(BrokerCredentialFactory(user=user).id)},
        format="json",
    )
    _assert_error(busy, 400)
    assert "open trades" in busy.json()["error"]


def test_update_validates(auth_client, user):
    subscription = SubscriptionFactory(user=user)
    _assert_error(auth_client.patch(_url(subscription), {"riskPerTrade": 0.5}, format="json"), 400)
    cancelled = SubscriptionFactory(user=user, is_active=False)
    _assert_error(auth_client.patch(_url(cancelled), {"leverage": 5}, format="json"), 400)


# --- cancel -----------------------------------------------------------------------------


def test_cancel_moves_the_count_once_and_unregisters_the_last(
    auth_client, other_client, user, other_user, credential, django_capture_on_commit_callbacks
):
    strategy = StrategyFactory()
    other_credential = BrokerCredentialFactory(user=other_user)
    with django_capture_on_commit_callbacks(execute=True):
        auth_client.post(_subscribe_url(strategy), _body(credential))
        other_client.post(_subscribe_url(strategy), _body(other_credential))
    strategy.refresh_from_db()
    assert strategy.subscriber_count == 2
    mine = StrategySubscription.objects.get(user=user)
    theirs = StrategySubscription.objects.get(user=other_user)

    with django_capture_on_commit_callbacks(execute=True):
        assert auth_client.delete(_url(mine)).json() == {
            "message": "Subscription cancelled",
            "openTrades": 0,
            "openTradesKept": False,
        }
        body = _assert_error(auth_client.delete(_url(mine)), 400)
    assert body["error"] == "Subscription is already cancelled"
    strategy.refresh_from_db()
    assert strategy.subscriber_count == 1
    assert registry_strategy_ids(symbol="BTCUSDT", resolution=5) == {str(strategy.id)}
    mine.refresh_from_db()
    assert not mine.is_active and mine.unsubscribed_at is not None

    with django_capture_on_commit_callbacks(execute=True):
        assert other_client.delete(_url(theirs)).status_code == 200
    strategy.refresh_from_db()
    assert strategy.subscriber_count == 0
    assert registry_active_candles() == set()


# --- trades -----------------------------------------------------------------------------


def test_trades_of_my_subscription(auth_client, user, django_assert_max_num_queries):
    subscription = SubscriptionFactory(user=user)
    open_trade = TradeFactory(subscription=subscription)
    closed = TradeFactory(
        subscription=subscription,
        status=Trade.Status.CLOSED,
        exit_price=Decimal("110"),
        exit_reason=Trade.ExitReason.TAKE_PROFIT,
        pnl=Decimal("10.5"),
    )
    TradeFactory()  # someone else's
    with django_assert_max_num_queries(3):
        body = auth_client.get(_url(subscription, "/trades")).json()
    assert [row["id"] for row in body["trades"]] == [str(closed.id), str(open_trade.id)]
    assert body["pagination"]["total"] == 2
    row = body["trades"][0]
    assert set(row) == {
        "id",
        "subscriptionId",
        "executionId",
        "symbol",
        "side",
        "quantity",
        "entryPrice",
        "stopLoss",
        "takeProfit",
        "exitPrice",
        "exitReason",
        "status",
        "pnl",
        "fees",
        "createdAt",
        "closedAt",
    }
    assert row["pnl"] == 10.5 and row["entryPrice"] == 100 and row["quantity"] == 1
    closed_only = auth_client.get(_url(subscription, "/trades"), {"status": "closed"}).json()
    assert [row["id"] for row in closed_only["trades"]] == [str(closed.id)]
