from decimal import Decimal

import pytest

from executions.models import StrategyExecution
from executions.tests.factories import ExecutionFactory, TradeFactory
from strategies.tests.factories import StrategyFactory
from subscriptions.tests.factories import SubscriptionFactory

pytestmark = pytest.mark.django_db


def _url(strategy) -> str:
    return f"/api/strategy-upload/strategies/{strategy.id}/executions"


def test_owner_sees_the_executions_newest_first(auth_client, user, django_assert_max_num_queries):
    strategy = StrategyFactory(user=user)
    older = ExecutionFactory(strategy=strategy)
    newer = ExecutionFactory(
        strategy=strategy,
        status=StrategyExecution.Status.FAILED,
        error_message="boom",
        signal={"action": "BUY", "stop_loss": 1.5},
        duration_ms=12,
    )
    ExecutionFactory()  # another strategy's
    with django_assert_max_num_queries(3):
        response = auth_client.get(_url(strategy), {"limit": 1000})
    body = response.json()
    assert [row["id"] for row in body["executions"]] == [str(newer.id), str(older.id)]
    row = body["executions"][0]
    assert set(row) == {
        "id",
        "strategyId",
        "symbol",
        "resolution",
        "scheduledTime",
        "startedAt",
        "completedAt",
        "status",
        "signal",
        "subscribersCount",
        "tradesCreated",
        "errorMessage",
        "output",
        "engineNotes",
        "durationMs",
    }
    assert row["signal"] == {"action": "BUY", "stop_loss": 1.5}
    assert row["errorMessage"] == "boom"
    failed = auth_client.get(_url(strategy), {"status": "failed"}).json()["executions"]
    assert [row["id"] for row in failed] == [str(newer.id)]


def test_a_status_that_does_not_exist_is_a_400_naming_the_choices(auth_client, user):
    strategy = StrategyFactory(user=user)
    ExecutionFactory(strategy=strategy)
    response = auth_client.get(_url(strategy), {"status": "DONE"})
    assert response.status_code == 400
    allowed = ", ".join(StrategyExecution.Status.values)
    assert response.json()["error"] == f"status must be one of {allowed}"
    assert auth_client.get(_url(strategy), {"status": ""}).json()["pagination"]["total"] == 1


def test_staff_may_read_them(staff_client):
    strategy = StrategyFactory()
    ExecutionFactory(strategy=strategy)
    assert staff_client.get(_url(strategy)).json()["pagination"]["total"] == 1


def test_others_get_404_and_anonymous_401(other_client, api_client, user):
    strategy = StrategyFactory(user=user)  # public, yet its run history is the author's
    ExecutionFactory(strategy=strategy)
    response = other_client.get(_url(strategy))
    assert response.status_code == 404
    assert response.json() == {"error": "Strategy not found"}
    assert api_client.get(_url(strategy)).status_code == 401
    bad = other_client.get("/api/strategy-upload/strategies/not-a-uuid/executions")
    assert bad.status_code == 404


def test_money_and_quantities_are_sent_at_their_steps(auth_client, user):
    subscription = SubscriptionFactory(user=user, total_pnl=Decimal("125.00000002"))
    TradeFactory(
        subscription=subscription,
        quantity=Decimal("0.066419000001"),
        pnl=Decimal("-24.99999999"),
    )
    trades = auth_client.get(f"/api/strategies/subscriptions/{subscription.id}/trades").json()
    (row,) = trades["trades"]
    assert row["quantity"] == 0.066419 and row["pnl"] == -25.0
    detail = auth_client.get(f"/api/strategies/subscriptions/{subscription.id}").json()
    assert detail["subscription"]["totalPnl"] == 125.0
    assert b"125.00000002" not in auth_client.get("/api/strategies/subscriptions").content
