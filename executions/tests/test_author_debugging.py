"""A strategy's author reads, through the API, what each run printed, what the engine did
and why subscriptions got no trade; nobody else does. Runs the real engine and sandbox."""

import pytest

from executions.engine import execution_run
from executions.execution_log import (
    engine_notes_for_author,
    execution_log_join,
    execution_log_split,
)
from executions.models import StrategyExecution
from executions.tests.helpers import CLOSE, make_candles, make_strategy, source
from subscriptions.tests.factories import SubscriptionFactory

pytestmark = pytest.mark.django_db

PRINT_AND_BUY_WITHOUT_STOP = source(
    'print("close is", candles.close[-1]); return {"action": "BUY"}'
)
RAISES = source("return 1 / 0")


def _executions(client, strategy):
    response = client.get(f"/api/strategy-upload/strategies/{strategy.id}/executions")
    assert response.status_code == 200, response.content
    return response.json()["executions"]


def test_author_sees_the_output_and_why_no_subscription_traded(auth_client, user):
    make_candles()
    strategy = make_strategy(PRINT_AND_BUY_WITHOUT_STOP, user=user)
    subscriptions = SubscriptionFactory.create_batch(2, strategy=strategy, sl_atr_multiplier=None)
    execution_run(strategy_id=strategy.id, candle_close=CLOSE)

    (row,) = _executions(auth_client, strategy)
    assert row["status"] == "COMPLETED"
    assert row["tradesCreated"] == 0
    assert row["subscribersCount"] == 2
    assert row["output"] == "close is 100.0\n"
    assert row["engineNotes"] == [
        "no trade for 2 subscription(s), no stop-loss: the signal has none and "
        "slAtrMultiplier is unset",
        "opened 0 BUY trade(s) at 100.00000000",
    ]
    # The subscriptions are other users': their ids stay out of the author's view.
    body = str(row)
    assert not [s for s in subscriptions if str(s.id) in body]
    # The log itself (staff read it in the admin) still names them.
    log = StrategyExecution.objects.get().execution_log
    assert all(str(s.id) in log for s in subscriptions)


def test_a_failed_run_counts_its_subscribers(auth_client, user):
    make_candles()
    strategy = make_strategy(RAISES, user=user)
    SubscriptionFactory.create_batch(3, strategy=strategy)
    execution_run(strategy_id=strategy.id, candle_close=CLOSE)

    (row,) = _executions(auth_client, strategy)
    assert row["status"] == "FAILED"
    assert row["subscribersCount"] == 3
    assert (
        row["errorMessage"] == "generate_signal raised ZeroDivisionError: division by zero (line 2)"
    )


def test_another_author_never_sees_the_output(other_client, api_client, user):
    make_candles()
    strategy = make_strategy(PRINT_AND_BUY_WITHOUT_STOP, user=user)  # public
    SubscriptionFactory(strategy=strategy)
    execution_run(strategy_id=strategy.id, candle_close=CLOSE)
    url = f"/api/strategy-upload/strategies/{strategy.id}/executions"
    assert other_client.get(url).status_code == 404
    assert api_client.get(url).status_code == 401
    # Nor through the strategy itself.
    detail = other_client.get(f"/api/strategy-upload/strategies/{strategy.id}").content.decode()
    assert "close is" not in detail


def test_the_log_round_trips():
    assert execution_log_split(execution_log_join("a\nb", ["x", "y"])) == ("a\nb", ["x", "y"])
    assert execution_log_split(execution_log_join("", ["x"])) == ("", ["x"])
    assert execution_log_split(execution_log_join("only output", [])) == ("only output", [])
    ids = "0b0b0b0b-0000-4000-8000-000000000001, 0b0b0b0b-0000-4000-8000-000000000002 …"
    assert engine_notes_for_author(
        [f"no trade for 12 subscription(s), broker refused the order (x: y): {ids}"]
    ) == ["no trade for 12 subscription(s), broker refused the order (x: y)"]
