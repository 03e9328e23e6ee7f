"""The subscriptions page (list, bulk stats, equity curve, pause/resume/update/cancel)
and the positions page (positions, orders, P&L, close), as the SPA calls them."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.tests.factories import UserFactory
from executions.models import Order, Trade
from executions.tests.factories import TradeFactory
from marketdata.tests.factories import CandleFactory
from strategies.tests.factories import StrategyFactory
from subscriptions.tests.factories import SubscriptionFactory

from .client import NUMBER, SpaClient, assert_shape, signed_in

pytestmark = pytest.mark.django_db

SUBSCRIPTIONS = "/api/strategies/subscriptions"
SUBSCRIPTION_SHAPE = {
    "id": str,
    "strategyId": str,
    "capital": NUMBER,
    "riskPerTrade": NUMBER,
    "leverage": int,
    "maxPositions": int,
    "maxDailyLoss": NUMBER,
    "isActive": bool,
    "isPaused": bool,
    "subscribedAt": str,
    "strategy": dict,
}
STATS_SHAPE = {
    "grossPnl": NUMBER,
    "netPnl": NUMBER,
    "totalFees": NUMBER,
    "totalTrades": int,
    "winRate": NUMBER,
    "maxDD": NUMBER,
    "maxDrawdownPct": NUMBER,
}
CURVE_SHAPE = {"date": str, "dailyPnl": NUMBER, "cumulativePnl": NUMBER}
LIVE_STATS_SHAPE = {
    "totalPnl": NUMBER,
    "realizedPnl": NUMBER,
    "totalTrades": int,
    "winRate": NUMBER,
    "openPositions": int,
    "closedTrades": int,
    "maxDD": NUMBER,
    "totalFees": NUMBER,
}
POSITION_SHAPE = {
    "id": str,
    "deploymentId": str,
    "strategyName": str,
    "strategyCode": str,
    "strategyId": str,
    "instrument": str,
    "side": str,
    "size": NUMBER,
    "entryPrice": NUMBER,
    "currentPrice": NUMBER,
    "unrealizedPnl": NUMBER,
    "unrealizedPnlPct": NUMBER,
    "leverage": int,
    "marginUsed": NUMBER,
    "openTime": str,
    "lastUpdate": str,
    "stopLoss": (NUMBER, None),
    "takeProfit": (NUMBER, None),
}
ORDER_SHAPE = {
    "id": str,
    "deploymentId": str,
    "strategyName": str,
    "strategyCode": str,
    "instrument": str,
    "type": str,
    "side": str,
    "amount": NUMBER,
    "price": NUMBER,
    "filled": NUMBER,
    "status": str,
    "createdAt": str,
    "updatedAt": str,
    "fees": NUMBER,
    "exitPrice": (NUMBER, None),
    "exitReason": (str, None),
    "pnl": (NUMBER, None),
}


def _closed(subscription, pnl: str, day: datetime, **fields) -> Trade:
    return TradeFactory(
        subscription=subscription,
        status=Trade.Status.CLOSED,
        exit_price=Decimal("101"),
        exit_reason=Trade.ExitReason.TAKE_PROFIT,
        pnl=Decimal(pnl),
        closed_at=day,
        **fields,
    )


# --- the subscriptions page --------------------------------------------------------------


def test_the_list_puts_live_subscriptions_first_and_returns_them_all_without_limit():
    me = UserFactory()
    old = timezone.now() - timedelta(days=30)
    live = SubscriptionFactory(user=me)
    paused = SubscriptionFactory(user=me, is_paused=True)
    for age, subscription in enumerate((paused, live)):
        type(subscription).objects.filter(id=subscription.id).update(
            subscribed_at=old - timedelta(days=age)
        )
    cancelled = [SubscriptionFactory(user=me, is_active=False) for _ in range(55)]
    spa = signed_in(me)
    body = spa.get(SUBSCRIPTIONS).json()
    rows = body["subscriptions"]
    for row in rows:
        assert_shape(row, SUBSCRIPTION_SHAPE)
    # The live ones first however old, then the newest cancelled up to the default limit.
    assert [row["id"] for row in rows[:2]] == [str(paused.id), str(live.id)]
    assert len(rows) == 50
    assert body["pagination"]["total"] == 57
    assert {row["id"] for row in rows[2:]} <= {str(item.id) for item in cancelled}


def test_without_limit_a_page_grows_to_hold_every_live_subscription(settings):
    me = UserFactory()
    for _ in range(53):
        SubscriptionFactory(user=me)
    SubscriptionFactory(user=me, is_active=False)
    spa = signed_in(me)
    body = spa.get(SUBSCRIPTIONS).json()
    assert len(body["subscriptions"]) == 53
    assert all(row["isActive"] for row in body["subscriptions"])
    assert body["pagination"]["limit"] == 53
    limited = spa.get(f"{SUBSCRIPTIONS}?limit=10").json()
    assert len(limited["subscriptions"]) == 10
    assert limited["pagination"] == {"page": 1, "limit": 10, "total": 54, "pages": 6}


def test_bulk_stats_as_the_subscriptions_page_reads_them():
    me = UserFactory()
    first, second = SubscriptionFactory(user=me), SubscriptionFactory(user=me)
    day = datetime(2026, 3, 1, 12, tzinfo=UTC)
    _closed(first, "150", day, fees=Decimal("1.5"))
    _closed(first, "-50", day + timedelta(days=1))
    _closed(first, "-80", day + timedelta(days=1, hours=2))
    TradeFactory(subscription=first)  # open
    stranger = SubscriptionFactory()
    spa = signed_in(me)
    response = spa.post(
        f"{SUBSCRIPTIONS}/bulk-stats",
        {"subscriptionIds": [str(first.id), str(second.id), str(stranger.id)]},
    )
    assert response.status_code == 200, response.content
    rows = {row["subscriptionId"]: row for row in response.json()["stats"]}
    assert set(rows) == {str(first.id), str(second.id)}  # the stranger's is not there
    mine = rows[str(first.id)]
    assert mine["hasDbTrades"] is True
    assert_shape(mine["stats"], STATS_SHAPE)
    assert_shape(mine["liveStats"], LIVE_STATS_SHAPE)
    assert mine["stats"]["netPnl"] == 20
    assert mine["stats"]["totalFees"] == 1.5
    assert mine["stats"]["grossPnl"] == 21.5
    assert mine["stats"]["totalTrades"] == 3
    assert mine["stats"]["winRate"] == 33.33
    assert mine["stats"]["maxDD"] == 130  # 10150 down to 10020
    assert mine["liveStats"]["openPositions"] == 1
    for point in mine["equityCurve"]:
        assert_shape(point, CURVE_SHAPE)
    assert [(p["date"], p["dailyPnl"], p["cumulativePnl"]) for p in mine["equityCurve"]] == [
        ("2026-03-01", 150, 150),
        ("2026-03-02", -130, 20),
    ]
    empty = rows[str(second.id)]
    assert empty["hasDbTrades"] is False
    assert empty["equityCurve"] == []
    assert empty["stats"]["winRate"] == 0


def test_bulk_stats_take_the_same_queries_for_one_or_many_subscriptions():
    me = UserFactory()
    spa = signed_in(me)

    def queries(ids) -> int:
        with CaptureQueriesContext(connection) as captured:
            response = spa.post(f"{SUBSCRIPTIONS}/bulk-stats", {"subscriptionIds": ids})
            assert response.status_code == 200
        return len(captured)

    one = SubscriptionFactory(user=me)
    _closed(one, "10", timezone.now())
    few = queries([str(one.id)])
    many = [SubscriptionFactory(user=me) for _ in range(8)]
    for subscription in many:
        _closed(subscription, "5", timezone.now())
        TradeFactory(subscription=subscription)
    assert queries([str(s.id) for s in [one, *many]]) == few


def test_bulk_stats_refuse_malformed_ids_with_a_sentence():
    response = signed_in(UserFactory()).post(
        f"{SUBSCRIPTIONS}/bulk-stats", {"subscriptionIds": ["nope"]}
    )
    assert response.status_code == 400
    assert response.json()["error"] == "subscriptionIds.0: Must be a valid UUID."


def test_the_equity_curve_of_a_subscription():
    me = UserFactory()
    subscription = SubscriptionFactory(user=me, capital=Decimal("1000"))
    _closed(subscription, "100", datetime(2026, 3, 1, tzinfo=UTC))
    _closed(subscription, "-220", datetime(2026, 3, 2, tzinfo=UTC))
    response = signed_in(me).get(f"{SUBSCRIPTIONS}/{subscription.id}/equity-curve")
    assert response.status_code == 200
    body = response.json()
    for point in body["equityCurve"]:
        assert_shape(point, CURVE_SHAPE)
    assert_shape(body["stats"], STATS_SHAPE)
    assert body["stats"]["maxDrawdownPct"] == 20.0  # 1100 down to 880
    assert body["stats"]["winRate"] == 50.0


def test_pause_resume_update_and_cancel_as_the_pages_send_them():
    me = UserFactory()
    subscription = SubscriptionFactory(user=me)
    spa = signed_in(me)
    url = f"{SUBSCRIPTIONS}/{subscription.id}"
    assert spa.post(f"{url}/pause").status_code == 200
    # The redeploy modal: PUT {capital} then POST resume.
    updated = spa.put(url, {"capital": 15000})
    assert updated.status_code == 200
    assert updated.json()["subscription"]["capital"] == 15000
    assert spa.post(f"{url}/resume").status_code == 200
    stats = spa.get(f"{url}/stats").json()["stats"]
    assert_shape(stats, {"totalTrades": int, "winRate": NUMBER, "totalPnl": NUMBER})
    assert spa.delete(url).status_code == 200
    again = spa.post(f"{url}/pause")
    assert again.status_code == 400
    assert again.json() == {"error": "Subscription is cancelled"}


# --- the positions page ----------------------------------------------------------------------


@pytest.fixture
def book():
    """A user with one open long, one open short (another strategy) and one closed trade;
    the market's newest stored candle closes at 110."""
    me = UserFactory()
    subscription = SubscriptionFactory(user=me, leverage=5)
    other = SubscriptionFactory(user=me, strategy=StrategyFactory(name="Shorts"))
    CandleFactory(close=Decimal("105"), open_time=datetime(2026, 3, 1, 10, tzinfo=UTC))
    CandleFactory(close=Decimal("110"), open_time=datetime(2026, 3, 1, 10, 5, tzinfo=UTC))
    long = TradeFactory(subscription=subscription, quantity=Decimal("2"))
    short = TradeFactory(subscription=other, side=Trade.Side.SELL, stop_loss=Decimal("120"))
    closed = _closed(subscription, "12.5", timezone.now())
    return me, subscription, long, short, closed


def test_current_positions(book):
    me, subscription, long, short, _ = book
    response = signed_in(me).get("/api/positions/current")
    assert response.status_code == 200
    positions = {row["id"]: row for row in response.json()["positions"]}
    assert set(positions) == {str(long.id), str(short.id)}
    for row in positions.values():
        assert_shape(row, POSITION_SHAPE)
    mine = positions[str(long.id)]
    assert mine["side"] == "LONG"
    assert mine["currentPrice"] == 110
    assert mine["unrealizedPnl"] == 20  # (110 - 100) x 2
    assert mine["unrealizedPnlPct"] == 10.0
    assert mine["marginUsed"] == 40  # 200 / 5
    assert mine["deploymentId"] == str(subscription.id)
    assert positions[str(short.id)]["side"] == "SHORT"
    assert positions[str(short.id)]["unrealizedPnl"] == -10
    assert response.json()["summary"]["totalUnrealizedPnl"] == 10


def _closing_orders(trade: Trade) -> dict:
    """What the orders worker leaves of a trade closed at its take-profit: the target
    filled (with its fee), the stop cancelled."""
    common = {
        "trade": trade,
        "credential_id": trade.subscription.broker_credential_id,
        "symbol": trade.symbol,
        "side": Trade.Side.SELL,
        "quantity": trade.quantity,
        "reduce_only": True,
    }
    stop = Order.objects.create(
        **common,
        purpose=Order.Purpose.STOP_LOSS,
        type=Order.Type.STOP_MARKET,
        trigger_price=trade.stop_loss,
        status=Order.Status.CANCELLED,
    )
    target = Order.objects.create(
        **common,
        purpose=Order.Purpose.TAKE_PROFIT,
        type=Order.Type.TAKE_PROFIT_MARKET,
        trigger_price=Decimal("110"),
        status=Order.Status.FILLED,
        filled_quantity=trade.quantity,
        average_price=Decimal("101"),
        fee=Decimal("0.5"),
        filled_at=timezone.now(),
    )
    return {"stop": stop, "target": target}


ORDER_ROW_SHAPE = {
    **ORDER_SHAPE,
    "tradeId": str,
    "subscriptionId": str,
    "strategyId": str,
    "purpose": str,
    "orderStatus": str,
    "reduceOnly": bool,
    "averagePrice": (NUMBER, None),
    "triggerPrice": (NUMBER, None),
    "filledAt": (str, None),
    "lastError": (str, None),
    "pnlPercentage": (NUMBER, None),
}


def test_orders_are_the_order_records(book):
    """A row per exchange action (ENTRY, STOP_LOSS, TAKE_PROFIT, EXIT), with its own
    status, fills, average price, fee and times; the trade's PnL on the order that
    closed it."""
    me, _, long, _short, closed = book
    closing = _closing_orders(closed)
    long.orders.update(
        filled_quantity=Decimal("1.5"),
        status=Order.Status.PARTIALLY_FILLED,
        average_price=Decimal("100.2"),
        fee=Decimal("0.3"),
    )
    TradeFactory()  # someone else's trade and order
    response = signed_in(me).get("/api/positions/orders")
    assert response.status_code == 200
    orders = response.json()["orders"]
    for row in orders:
        assert_shape(row, ORDER_ROW_SHAPE)
    mine = Order.objects.filter(trade__subscription__user=me)
    assert [row["id"] for row in orders] == [
        str(order.id) for order in mine.order_by("-created_at", "-id")
    ]
    assert len(orders) == 5  # three entries, the closed trade's stop and target
    by_id = {row["id"]: row for row in orders}

    entry = by_id[str(long.orders.get().id)]
    assert (entry["purpose"], entry["type"], entry["side"]) == ("ENTRY", "MARKET", "BUY")
    assert (entry["status"], entry["orderStatus"]) == ("OPEN", "PARTIALLY_FILLED")
    assert (entry["amount"], entry["filled"], entry["fees"]) == (2, 1.5, 0.3)
    assert entry["price"] == 100.2 and entry["averagePrice"] == 100.2
    assert entry["tradeId"] == str(long.id) and entry["pnl"] is None
    assert entry["exitPrice"] is None and entry["reduceOnly"] is False

    target = by_id[str(closing["target"].id)]
    assert (target["purpose"], target["type"]) == ("TAKE_PROFIT", "TAKE_PROFIT_MARKET")
    assert (target["status"], target["orderStatus"]) == ("CLOSED", "FILLED")
    assert target["price"] == 101 and target["triggerPrice"] == 110
    assert target["fees"] == 0.5 and target["reduceOnly"] is True
    assert target["filledAt"] is not None
    assert (target["pnl"], target["exitPrice"], target["exitReason"]) == (12.5, 101, "TAKE_PROFIT")
    assert target["pnlPercentage"] == 12.5  # 12.5 on 1 x 100

    stop = by_id[str(closing["stop"].id)]
    assert (stop["status"], stop["orderStatus"], stop["filled"]) == ("CLOSED", "CANCELLED", 0)
    assert stop["price"] == 95 and stop["averagePrice"] is None  # its trigger
    assert stop["pnl"] is None and stop["exitReason"] is None
    # The trade's PnL is on one row: the rows sum to the closed trades' PnL.
    assert sum(row["pnl"] or 0 for row in orders) == 12.5

    closed_entry = by_id[str(closed.orders.get(purpose=Order.Purpose.ENTRY).id)]
    assert closed_entry["status"] == "CLOSED" and closed_entry["pnl"] is None


def test_orders_filters_the_spa_sends(book):
    me, _, long, _short, closed = book
    _closing_orders(closed)
    long.orders.update(status=Order.Status.SUBMITTED, filled_quantity=0)
    TradeFactory(subscription=SubscriptionFactory(user=me), symbol="ETHUSDT")
    spa = signed_in(me)
    only_open = spa.get("/api/positions/orders?status=open").json()["orders"]
    assert [row["id"] for row in only_open] == [str(long.orders.get().id)]
    only_closed = spa.get("/api/positions/orders?status=closed").json()["orders"]
    assert len(only_closed) == 5 and {row["status"] for row in only_closed} == {"CLOSED"}
    assert len(spa.get("/api/positions/orders?status=all").json()["orders"]) == 6
    eth = spa.get("/api/positions/orders?symbol=ETH/USDT").json()["orders"]
    assert [row["instrument"] for row in eth] == ["ETHUSDT"]
    page = spa.get("/api/positions/orders?page=2&limit=4").json()
    assert len(page["orders"]) == 2 and page["pagination"]["total"] == 6


def test_pnl(book):
    me, subscription, *_ = book
    response = signed_in(me).get("/api/positions/pnl")
    assert response.status_code == 200
    body = response.json()
    assert_shape(
        body["summary"],
        {
            "totalRealizedPnl": NUMBER,
            "totalUnrealizedPnl": NUMBER,
            "totalPnl": NUMBER,
            "totalTrades": int,
            "winRate": NUMBER,
            "activeStrategies": int,
        },
    )
    assert body["summary"]["totalRealizedPnl"] == 12.5
    assert body["summary"]["totalUnrealizedPnl"] == 10
    assert body["summary"]["totalPnl"] == 22.5
    assert body["summary"]["winRate"] == 100.0
    assert body["summary"]["activeStrategies"] == 2
    assert len(body["dailyPnl"]) == 30
    assert_shape(body["dailyPnl"][-1], {"date": str, "pnl": NUMBER, "cumulativePnl": NUMBER})
    assert body["dailyPnl"][-1]["cumulativePnl"] == 12.5
    [performance] = body["strategyPerformance"]
    assert_shape(
        performance,
        {
            "strategyId": str,
            "strategyName": str,
            "strategyCode": str,
            "realizedPnl": NUMBER,
            "trades": int,
            "winRate": NUMBER,
            "isActive": bool,
        },
    )
    assert performance["strategyId"] == str(subscription.strategy_id)
    assert performance["isActive"] is True
    week = signed_in(me).get("/api/positions/pnl?period=7d").json()
    assert len(week["dailyPnl"]) == 7
    refused = signed_in(me).get("/api/positions/pnl?period=9999d")
    assert refused.status_code == 400
    assert refused.json()["error"].startswith("period")


def test_position_lists_take_the_same_queries_for_any_number_of_trades(book):
    me, subscription, *_ = book
    spa = signed_in(me)

    def queries() -> dict:
        counts = {}
        for path in ("/api/positions/current", "/api/positions/orders", "/api/positions/pnl"):
            with CaptureQueriesContext(connection) as captured:
                assert spa.get(path).status_code == 200
            counts[path] = len(captured)
        return counts

    few = queries()
    for _ in range(6):
        TradeFactory(subscription=SubscriptionFactory(user=me))
        _closed(subscription, "3", timezone.now())
    assert queries() == few


def test_closing_a_position_closes_the_trade_at_the_current_price(
    book, django_capture_on_commit_callbacks
):
    me, subscription, long, *_ = book
    spa = signed_in(me)
    with django_capture_on_commit_callbacks(execute=True):  # then the orders worker fills it
        response = spa.post(
            "/api/positions/close", {"positionId": str(long.id), "reason": "Manual close"}
        )
    assert response.status_code == 200, response.content
    assert response.json()["success"] is True
    assert response.json()["exitPrice"] == 110 and response.json()["pnl"] is None
    long.refresh_from_db()
    assert long.status == Trade.Status.CLOSED
    assert long.exit_price == Decimal("110")
    assert long.pnl == Decimal("20")
    assert long.exit_reason == Trade.ExitReason.EXIT
    subscription.refresh_from_db()
    assert subscription.winning_trades == 1
    assert subscription.total_pnl == Decimal("20")
    again = spa.post("/api/positions/close", {"positionId": str(long.id)})
    assert again.status_code == 409
    assert again.json() == {"error": "Position is already closed"}
    assert str(long.id) not in {
        p["id"] for p in spa.get("/api/positions/current").json()["positions"]
    }


def test_a_position_without_a_market_price_is_not_closed():
    me = UserFactory()
    trade = TradeFactory(subscription=SubscriptionFactory(user=me), symbol="NOPRICEUSDT")
    response = signed_in(me).post("/api/positions/close", {"positionId": str(trade.id)})
    assert response.status_code == 409
    assert response.json() == {"error": "No market price for NOPRICEUSDT yet"}
    trade.refresh_from_db()
    assert trade.status == Trade.Status.OPEN


def test_someone_elses_position_and_subscription_are_not_found(book):
    _, subscription, long, *_ = book
    stranger = signed_in(UserFactory())
    closing = stranger.post("/api/positions/close", {"positionId": str(long.id)})
    assert closing.status_code == 404
    assert closing.json() == {"error": "Position not found"}
    curve = stranger.get(f"{SUBSCRIPTIONS}/{subscription.id}/equity-curve")
    assert curve.status_code == 404
    assert curve.json() == {"error": "Subscription not found"}
    for path in ("/api/positions/current", "/api/positions/orders"):
        body = stranger.get(path).json()
        assert body.get("positions", body.get("orders")) == []
    assert stranger.get("/api/positions/pnl").json()["summary"]["totalTrades"] == 0
    long.refresh_from_db()
    assert long.status == Trade.Status.OPEN


SIGNED_IN_ONLY = [
    ("GET", "/api/user/me"),
    ("GET", "/api/broker/credentials"),
    ("POST", "/api/broker/keys"),
    ("DELETE", "/api/broker/keys"),
    ("GET", "/api/broker/status"),
    ("POST", "/api/broker/test"),
    ("GET", "/api/broker/futures-balance"),
    ("POST", "/api/strategies/subscriptions/bulk-stats"),
    ("GET", "/api/strategies/subscriptions/00000000-0000-0000-0000-000000000000/equity-curve"),
    ("GET", "/api/positions/current"),
    ("GET", "/api/positions/orders"),
    ("GET", "/api/positions/pnl"),
    ("POST", "/api/positions/close"),
]


@pytest.mark.parametrize(("method", "path"), SIGNED_IN_ONLY)
def test_anonymous_callers_are_asked_to_sign_in(method, path):
    response = SpaClient().request(method, path, {} if method == "POST" else None)
    assert response.status_code == 401
    assert response.json() == {"error": "Authentication required"}
