"""The dashboard's catalogue, the strategy page and the subscribe modal, with the
requests the SPA sends and the fields its pages read."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.tests.factories import BrokerCredentialFactory, UserFactory
from backtests.metrics import metrics_to_json
from backtests.models import Backtest, BacktestTrade
from backtests.tests.factories import BacktestFactory
from strategies.tests.factories import StrategyFactory
from subscriptions.models import StrategySubscription
from subscriptions.tests.factories import SubscriptionFactory

from .client import NUMBER, SpaClient, assert_shape, signed_in

pytestmark = pytest.mark.django_db

# What strategy-service.ts maps and the dashboard page and subscribe modal print.
CATALOGUE_SHAPE = {
    "id": str,
    "name": str,
    "code": str,
    "description": str,
    "author": str,
    "instrument": str,
    "tags": str,
    "winRate": (NUMBER, None),
    "roi": (NUMBER, None),
    "riskReward": (NUMBER, None),
    "maxDrawdown": (NUMBER, None),
    "marginRequired": (NUMBER, None),
    "subscriberCount": int,
    "deploymentCount": int,
    "isSubscribed": bool,
    "createdAt": str,
    "timeframes": list,
    "supportedPairs": list,
    "isPublic": bool,
    "isOwned": bool,
    "executionConfig": dict,
}
BACKTEST_SHAPE = {
    "id": str,
    "startDate": str,
    "endDate": str,
    "initialBalance": NUMBER,
    "finalBalance": NUMBER,
    "totalReturn": NUMBER,
    "totalReturnPct": NUMBER,
    "maxDrawdown": NUMBER,
    "maxDrawdownPct": NUMBER,
    "winRate": NUMBER,
    "totalTrades": int,
    "equityCurve": list,
    "tradeHistory": list,
    "monthlyReturns": dict,
    "createdAt": str,
}
TRADE_SHAPE = {
    "index": int,
    "entryTime": str,
    "exitTime": str,
    "entryDate": str,
    "exitDate": str,
    "orderType": str,
    "strike": str,
    "action": str,
    "quantity": NUMBER,
    "entryPrice": NUMBER,
    "exitPrice": NUMBER,
    "profitLoss": NUMBER,
    "charges": NUMBER,
    "remarks": str,
}

METRICS = {
    "total_trades": 4,
    "winning_trades": 3,
    "losing_trades": 1,
    "win_rate": 0.75,
    "initial_capital": Decimal("10000"),
    "final_equity": Decimal("11250"),
    "total_return": Decimal("1250"),
    "total_return_pct": Decimal("12.50"),
    "total_fees": Decimal("4.20"),
    "profit_factor": Decimal("6.00"),
    "expectancy": Decimal("312.50"),
    "average_win": Decimal("500"),
    "average_loss": Decimal("-250"),
    "max_drawdown": Decimal("300"),
    "max_drawdown_pct": Decimal("2.75"),
    "sharpe_ratio": 1.8,
}


def _track_record(strategy, *, user=None, metrics=METRICS) -> Backtest:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    backtest = BacktestFactory(
        strategy=strategy,
        user=user or strategy.user,
        status=Backtest.Status.COMPLETED,
        metrics=metrics_to_json(metrics),
        equity_curve=[
            [start.isoformat(), "10000"],
            [(start + timedelta(days=1)).isoformat(), "10500"],
            [(start + timedelta(days=2)).isoformat(), "10200"],
        ],
    )
    for day, pnl in ((1, "500"), (35, "-300")):
        BacktestTrade.objects.create(
            backtest=backtest,
            side="BUY",
            quantity=Decimal("0.5"),
            entry_time=start + timedelta(days=day),
            entry_price=Decimal("42000"),
            stop_loss=Decimal("41000"),
            exit_time=start + timedelta(days=day, hours=3),
            exit_price=Decimal("43000"),
            exit_reason="TAKE_PROFIT",
            fee=Decimal("2.10"),
            pnl=Decimal(pnl),
        )
    return backtest


def test_catalogue_as_the_dashboard_reads_it():
    author, me = UserFactory(), UserFactory()
    strategy = StrategyFactory(user=author, tags="trend,btc", min_capital=Decimal("5000"))
    _track_record(strategy)
    # A subscriber's own backtest is not the strategy's track record.
    _track_record(strategy, user=me, metrics={**METRICS, "winning_trades": 0})
    SubscriptionFactory(user=me, strategy=strategy)
    StrategyFactory(user=author, is_public=False)  # someone else's private one: hidden
    StrategyFactory(user=author, is_active=False)  # deleted: hidden

    spa = signed_in(me)
    response = spa.get("/api/marketplace?page=1&limit=1000")
    assert response.status_code == 200
    body = response.json()
    assert body["pagination"] == {"page": 1, "limit": 1000, "total": 1, "pages": 1}
    [row] = body["strategies"]
    assert_shape(row, CATALOGUE_SHAPE)
    assert row["id"] == str(strategy.id)
    assert row["winRate"] == 75.0  # percent: the page prints `${winRate.toFixed(1)}%`
    assert row["roi"] == 12.5
    assert row["riskReward"] == 2.0
    assert row["maxDrawdown"] == 0.0275  # a fraction: the page prints it times 100
    assert row["tags"] == "trend,btc"
    assert row["isSubscribed"] is True
    assert row["subscriberCount"] == row["deploymentCount"]
    assert row["executionConfig"]["minMargin"] == 5000
    assert row["executionConfig"]["symbol"] == "BTCUSDT"
    assert row["instrument"] == "BTCUSDT"


def test_catalogue_for_a_guest_and_for_a_stale_token():
    strategy = StrategyFactory()
    for spa in (SpaClient(), SpaClient("expired.or.forged")):
        response = spa.get("/api/marketplace?page=1&limit=1000")
        assert response.status_code == 200
        [row] = response.json()["strategies"]
        assert row["id"] == str(strategy.id)
        assert row["isSubscribed"] is False
        assert row["winRate"] is None  # no backtest yet: the page shows N/A
        assert row["executionConfig"]["minMargin"] is None


def test_catalogue_query_count_does_not_grow_with_strategies():
    me = UserFactory()
    spa = signed_in(me)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert spa.get("/api/marketplace?page=1&limit=1000").status_code == 200
        return len(captured)

    strategy = StrategyFactory()
    _track_record(strategy)
    few = queries()
    for _ in range(5):
        more = StrategyFactory()
        _track_record(more)
        SubscriptionFactory(user=me, strategy=more)
    assert queries() == few


def test_strategy_page_reads_metrics_equity_curve_and_trades():
    me = UserFactory()
    strategy = StrategyFactory(min_capital=Decimal("2500"))
    backtest = _track_record(strategy)
    response = signed_in(me).get(f"/api/marketplace/{strategy.id}")
    assert response.status_code == 200
    detail = response.json()["strategy"]
    assert_shape(detail, {**CATALOGUE_SHAPE, "version": str, "isActive": bool})
    assert detail["isSubscribed"] is False
    latest = detail["latestBacktest"]
    assert_shape(latest, BACKTEST_SHAPE)
    assert latest["id"] == str(backtest.id)
    assert [point["equity"] for point in latest["equityCurve"]] == [10000, 10500, 10200]
    assert [point["drawdown"] for point in latest["equityCurve"]] == [0, 0, 300]
    assert latest["monthlyReturns"] == {"2026-01": 500, "2026-02": -300}
    assert len(latest["tradeHistory"]) == 2
    for trade in latest["tradeHistory"]:
        assert_shape(trade, TRADE_SHAPE)
    assert latest["tradeHistory"][0]["action"] == "buy"
    assert latest["tradeHistory"][0]["entryDate"] == "2026-01-02"


@pytest.mark.parametrize("kind", ["private", "inactive", "unknown"])
def test_strategy_page_of_what_one_may_not_see_is_not_found(kind):
    other = UserFactory()
    strategy = {
        "private": lambda: StrategyFactory(user=other, is_public=False),
        "inactive": lambda: StrategyFactory(user=other, is_active=False),
        "unknown": lambda: StrategyFactory.build(),
    }[kind]()
    response = signed_in(UserFactory()).get(f"/api/marketplace/{strategy.id}")
    assert response.status_code == 404
    assert response.json() == {"error": "Strategy not found"}


# --- the subscribe modal -------------------------------------------------------------------


def _modal(spa, strategy, credential, capital=12000, **more):
    """What subscribe-modal.tsx sends: {capital, brokerCredentialId} and nothing else."""
    return spa.post(
        f"/api/strategies/{strategy.id}/subscribe",
        {"capital": capital, "brokerCredentialId": str(credential.id), **more},
    )


def test_the_modal_subscribes_with_the_strategys_recommended_settings():
    me = UserFactory()
    credential = BrokerCredentialFactory(user=me)
    strategy = StrategyFactory(
        default_risk_per_trade=Decimal("0.02"),
        default_leverage=5,
        default_max_positions=3,
        default_max_daily_loss=Decimal("0.1"),
        min_capital=Decimal("10000"),
    )
    spa = signed_in(me)
    # What the modal reads first: the credentials, the balance, the subscriptions.
    credentials = spa.get("/api/broker/credentials").json()["credentials"]
    assert_shape(credentials[0], {"id": str, "brokerName": str, "isActive": bool})
    balance = spa.get("/api/broker/futures-balance").json()
    assert_shape(balance, {"totalAvailable": NUMBER, "currency": str})
    assert spa.get("/api/strategies/subscriptions").json()["subscriptions"] == []

    response = _modal(spa, strategy, credential)
    assert response.status_code == 201, response.content
    subscription = response.json()["subscription"]
    assert subscription["riskPerTrade"] == 0.02
    assert subscription["leverage"] == 5
    assert subscription["maxPositions"] == 3
    assert subscription["maxDailyLoss"] == 0.1
    assert subscription["capital"] == 12000


def test_without_recommendations_the_platform_defaults_apply():
    me = UserFactory()
    response = _modal(signed_in(me), StrategyFactory(), BrokerCredentialFactory(user=me))
    assert response.status_code == 201, response.content
    stored = StrategySubscription.objects.get(user=me)
    assert (stored.risk_per_trade, stored.leverage, stored.max_positions) == (
        Decimal("0.01"),
        10,
        1,
    )
    assert stored.max_daily_loss == Decimal("0.05")


def test_a_subscriber_may_override_within_the_platform_limits():
    me = UserFactory()
    credential = BrokerCredentialFactory(user=me)
    strategy = StrategyFactory(default_leverage=5, default_risk_per_trade=Decimal("0.02"))
    spa = signed_in(me)
    too_far = _modal(spa, strategy, credential, leverage=200)
    assert too_far.status_code == 400
    assert too_far.json()["error"] == "leverage must be at most 125"
    response = _modal(spa, strategy, credential, leverage=20, riskPerTrade=0.05)
    assert response.status_code == 201
    assert response.json()["subscription"]["leverage"] == 20
    assert response.json()["subscription"]["riskPerTrade"] == 0.05


def test_capital_under_the_strategys_minimum_is_refused_with_a_sentence():
    me = UserFactory()
    credential = BrokerCredentialFactory(user=me)
    strategy = StrategyFactory(min_capital=Decimal("10000"))
    spa = signed_in(me)
    response = _modal(spa, strategy, credential, capital=9999.5)
    assert response.status_code == 400
    assert response.json() == {
        "error": "capital must be at least 10000 (the strategy's minimum capital)",
        "details": {"capital": ["capital must be at least 10000 (the strategy's minimum capital)"]},
    }
    assert _modal(spa, strategy, credential, capital=0).json()["error"] == (
        "capital must be greater than 0"
    )
    # The redeploy modal's update is held to the same minimum.
    subscription = SubscriptionFactory(user=me, strategy=strategy, capital=Decimal("20000"))
    update = spa.put(f"/api/strategies/subscriptions/{subscription.id}", {"capital": 500})
    assert update.status_code == 400
    assert update.json()["error"].startswith("capital must be at least 10000")


def test_an_author_publishes_recommended_settings_within_the_platform_limits():
    author = UserFactory()
    spa = signed_in(author)
    body = {
        "name": "Trend",
        "code": "trend-recommended",
        "strategyCode": 'def generate_signal(candles, params):\n    return {"action": "HOLD"}\n',
        "executionConfig": {"symbol": "BTCUSDT", "resolution": 5},
        "riskDefaults": {"riskPerTrade": 0.02, "leverage": 5, "minCapital": 1000},
    }
    created = spa.post("/api/strategy-upload/strategies", body)
    assert created.status_code == 201, created.content
    defaults = created.json()["strategy"]["riskDefaults"]
    assert defaults == {
        "riskPerTrade": 0.02,
        "leverage": 5,
        "maxPositions": None,
        "maxDailyLoss": None,
        "minCapital": 1000,
    }
    strategy_id = created.json()["strategy"]["id"]
    url = f"/api/strategy-upload/strategies/{strategy_id}"
    changed = spa.request("PATCH", url, {"riskDefaults": {"maxPositions": 2, "leverage": None}})
    assert changed.status_code == 200, changed.content
    assert changed.json()["strategy"]["riskDefaults"]["maxPositions"] == 2
    assert changed.json()["strategy"]["riskDefaults"]["leverage"] is None
    assert changed.json()["strategy"]["riskDefaults"]["riskPerTrade"] == 0.02
    refused = spa.request("PATCH", url, {"riskDefaults": {"leverage": 126}})
    assert refused.status_code == 400
    assert refused.json()["error"] == "riskDefaults.leverage must be at most 125"
