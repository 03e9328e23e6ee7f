"""/api/strategy-upload/strategies/:id/backtests: who may run one, validation, results."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from backtests.models import Backtest
from marketdata.models import Candle
from strategies.tests.factories import StrategyFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
SOURCE = """
def generate_signal(candles, params):
    if len(candles) == 3 and candles.time[-1].endswith("13:00:00+00:00"):
        return {"action": "BUY", "stopLoss": 95, "takeProfit": 110}
    return {"action": "HOLD"}
"""
CONFIG = {"symbol": "BTCUSDT", "resolution": 60, "lookbackPeriod": 3, "params": {}}


def url(strategy_id, *rest) -> str:
    return "/".join([f"/api/strategy-upload/strategies/{strategy_id}/backtests", *rest])


def body(**overrides) -> dict:
    values = {
        "start": (T0 + 3 * HOUR).isoformat(),
        "end": (T0 + 10 * HOUR).isoformat(),
        "capital": 10000,
        "riskPerTrade": 0.01,
        "leverage": 10,
        "maxPositions": 1,
        "maxDailyLoss": 0.05,
        "slAtrMultiplier": 1.5,
        "tpAtrMultiplier": 3,
        "feeRate": 0.001,
        "slippage": 0,
    }
    values.update(overrides)
    return values


@pytest.fixture
def candles(db):
    rows = []
    for n in range(10):
        high, low = (111, 99) if n == 4 else (101, 99)
        rows.append(
            Candle(
                symbol="BTCUSDT",
                resolution=60,
                open_time=T0 + n * HOUR,
                open=Decimal(100),
                high=Decimal(high),
                low=Decimal(low),
                close=Decimal(100),
                volume=Decimal(1),
            )
        )
    Candle.objects.bulk_create(rows)


@pytest.fixture
def own_strategy(user):
    return StrategyFactory(user=user, strategy_code=SOURCE, execution_config=CONFIG)


def test_owner_starts_a_backtest_and_reads_the_results(
    auth_client, own_strategy, candles, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = auth_client.post(url(own_strategy.id), body(), format="json")
    assert response.status_code == 202, response.json()
    answer = response.json()
    assert answer["message"] == "Backtest queued"
    backtest_id = answer["backtest"]["id"]
    assert answer["backtest"]["status"] == "QUEUED"
    assert answer["backtest"]["settings"]["riskPerTrade"] == 0.01

    response = auth_client.get(url(own_strategy.id, backtest_id))
    assert response.status_code == 200
    backtest = response.json()["backtest"]
    assert backtest["status"] == "COMPLETED", backtest["errorMessage"]
    assert (backtest["progressDone"], backtest["progressTotal"], backtest["progress"]) == (
        8,
        8,
        1.0,
    )
    metrics = backtest["metrics"]
    assert metrics["totalTrades"] == 1
    assert metrics["winningTrades"] == 1
    assert metrics["totalReturn"] == 195.8  # 20 x (110 - 100) less 0.1 % fees 2 + 2.2
    assert metrics["winRate"] == 1.0
    assert isinstance(metrics["sharpeRatio"], float)
    assert [point[1] for point in backtest["equityCurve"][:3]] == [10000.0, 9998.0, 10195.8]
    assert backtest["settings"]["capital"] == 10000

    trades = auth_client.get(url(own_strategy.id, backtest_id, "trades")).json()
    assert trades["pagination"]["total"] == 1
    assert trades["trades"][0]["exitReason"] == "TAKE_PROFIT"
    assert trades["trades"][0]["pnl"] == 195.8

    listing = auth_client.get(url(own_strategy.id)).json()
    assert [row["id"] for row in listing["backtests"]] == [backtest_id]
    assert "equityCurve" not in listing["backtests"][0]
    assert listing["pagination"] == {"page": 1, "limit": 50, "total": 1, "pages": 1}


def test_owner_may_backtest_an_inactive_private_strategy(auth_client, user, candles):
    strategy = StrategyFactory(
        user=user, strategy_code=SOURCE, execution_config=CONFIG, is_active=False, is_public=False
    )
    assert auth_client.post(url(strategy.id), body(), format="json").status_code == 202


def test_anyone_may_backtest_a_public_active_strategy(other_client, own_strategy, candles):
    response = other_client.post(url(own_strategy.id), body(), format="json")
    assert response.status_code == 202
    # The results are the runner's own: the author does not see them.
    assert Backtest.objects.get().user != own_strategy.user
    assert "strategyCode" not in str(response.json())


@pytest.mark.parametrize("flags", [{"is_public": False}, {"is_active": False}])
def test_someone_elses_private_or_inactive_strategy_is_not_found(other_client, user, flags):
    strategy = StrategyFactory(user=user, execution_config=CONFIG, **flags)
    response = other_client.post(url(strategy.id), body(), format="json")
    assert response.status_code == 404
    assert response.json() == {"error": "Strategy not found"}
    assert other_client.get(url(strategy.id)).status_code == 404
    assert not Backtest.objects.exists()


def test_anonymous_gets_401(api_client, own_strategy):
    assert api_client.post(url(own_strategy.id), body(), format="json").status_code == 401
    assert api_client.get(url(own_strategy.id)).status_code == 401


def test_someone_elses_backtest_is_not_found(auth_client, other_client, own_strategy, candles):
    backtest_id = auth_client.post(url(own_strategy.id), body(), format="json").json()["backtest"][
        "id"
    ]
    assert other_client.get(url(own_strategy.id, backtest_id)).status_code == 404
    assert other_client.get(url(own_strategy.id, backtest_id, "trades")).status_code == 404
    assert other_client.get(url(own_strategy.id)).json()["backtests"] == []
    response = auth_client.get(url(own_strategy.id, "not-a-uuid"))
    assert response.status_code == 404
    assert response.json() == {"error": "Backtest not found"}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"capital": 0}, "capital"),
        ({"riskPerTrade": 0.2}, "riskPerTrade"),
        ({"leverage": 126}, "leverage"),
        ({"maxPositions": 0}, "maxPositions"),
        ({"maxDailyLoss": 1.5}, "maxDailyLoss"),
        ({"slAtrMultiplier": 0}, "slAtrMultiplier"),
        ({"feeRate": 0.02}, "feeRate"),
        ({"slippage": 0.06}, "slippage"),
        ({"resolution": 7}, "resolution"),
        ({"start": None}, "start"),
    ],
)
def test_invalid_bodies(auth_client, own_strategy, overrides, field):
    response = auth_client.post(url(own_strategy.id), body(**overrides), format="json")
    assert response.status_code == 400
    assert field in response.json()["details"]


def test_rate_messages(auth_client, own_strategy):
    response = auth_client.post(url(own_strategy.id), body(slippage=0.06), format="json")
    assert response.json()["details"]["slippage"] == ["Slippage must be at most 0.05 (5 percent)"]


def test_period_rules(auth_client, own_strategy, settings):
    start = T0.isoformat()
    response = auth_client.post(url(own_strategy.id), body(start=start, end=start), format="json")
    assert response.status_code == 400
    assert response.json()["error"] == "The end must be after the start"
    settings.BACKTEST_MAX_CANDLES = 100
    response = auth_client.post(
        url(own_strategy.id),
        body(start=start, end=(T0 + 101 * HOUR).isoformat()),
        format="json",
    )
    assert response.status_code == 400
    assert "at most 100 candles" in response.json()["error"]
    assert not Backtest.objects.exists()


def test_the_task_is_enqueued_after_commit(
    auth_client, own_strategy, candles, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        auth_client.post(url(own_strategy.id), body(), format="json")
    assert len(callbacks) == 1
    assert Backtest.objects.get().status == Backtest.Status.QUEUED


def test_another_candle_may_be_given(auth_client, own_strategy):
    response = auth_client.post(
        url(own_strategy.id), body(symbol="eth/usdt", resolution=15), format="json"
    )
    assert response.status_code == 202
    assert (response.json()["backtest"]["symbol"], response.json()["backtest"]["resolution"]) == (
        "ETHUSDT",
        15,
    )


def test_list_query_count(auth_client, own_strategy, user, django_assert_max_num_queries):
    for _ in range(5):
        Backtest.objects.create(
            strategy=own_strategy,
            user=user,
            symbol="BTCUSDT",
            resolution=60,
            start=T0,
            end=T0 + HOUR,
            params={"capital": "1"},
        )
    with django_assert_max_num_queries(4):
        response = auth_client.get(url(own_strategy.id))
    assert response.json()["pagination"]["total"] == 5
