"""Closing positions on the platform's initiative (cancel, flatten, kill switch), paper
through the same order lifecycle as live, and the subscriber's view of their orders."""

from decimal import Decimal

import pytest

from accounts.tests.factories import UserFactory
from executions.models import Order, Trade
from executions.orders import entry_orders_create, orders_process
from executions.tests.factories import TradeFactory
from marketdata.tests.factories import CandleFactory
from subscriptions.models import StrategySubscription
from subscriptions.tests.factories import SubscriptionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def paper_trade(django_capture_on_commit_callbacks):
    """An open paper trade whose entry went through the orders worker (filled at 100)."""

    def make(subscription=None):
        subscription = subscription or SubscriptionFactory()
        trade = TradeFactory(subscription=subscription, quantity=Decimal("2"), entry=False)
        ids = entry_orders_create(
            execution=trade.execution,
            entries=[
                (trade.id, subscription.broker_credential_id, "BUY", Decimal("2"), Decimal("100"))
            ],
        )
        with django_capture_on_commit_callbacks(execute=True):
            orders_process(order_ids=ids)
        return trade

    return make


def test_paper_entries_fill_through_the_orders_lifecycle(paper_trade):
    trade = paper_trade()
    entry = trade.orders.get()
    assert entry.status == Order.Status.FILLED and entry.average_price == Decimal("100")
    assert entry.exchange_order_id.startswith("paper-")
    trade.refresh_from_db()
    assert trade.status == Trade.Status.OPEN and not trade.protected_on_exchange


def test_an_operator_flattens_a_subscription(
    paper_trade, admin_client, django_capture_on_commit_callbacks
):
    trade = paper_trade()
    CandleFactory(close=Decimal("104"))
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/subscriptions/strategysubscription/",
            {"action": "subscription_flatten", "_selected_action": [trade.subscription_id]},
        )
    assert response.status_code == 302
    trade.refresh_from_db()
    assert trade.status == Trade.Status.CLOSED and trade.exit_reason == "FLATTEN"
    assert trade.exit_price == Decimal("104") and trade.pnl == Decimal("8")
    exit_order = trade.orders.get(purpose=Order.Purpose.EXIT)
    assert exit_order.reduce_only and exit_order.status == Order.Status.FILLED
    assert StrategySubscription.objects.get(id=trade.subscription_id).is_active


def test_operator_flattens_a_user_and_pulls_the_kill_switch(
    paper_trade, admin_client, django_capture_on_commit_callbacks
):
    CandleFactory(close=Decimal("99"))
    first, second = paper_trade(), paper_trade()
    other = paper_trade()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/accounts/user/",
            {"action": "flatten_users", "_selected_action": [first.subscription.user_id]},
        )
    assert response.status_code == 302
    first.refresh_from_db()
    assert first.status == Trade.Status.CLOSED
    second.refresh_from_db()
    assert second.status == Trade.Status.OPEN

    page = admin_client.get("/admin/executions/trade/kill-switch/")
    assert b"FLATTEN EVERYTHING" in page.content
    admin_client.post("/admin/executions/trade/kill-switch/", {"confirm": "nope"})
    assert Trade.objects.filter(status=Trade.Status.OPEN).count() == 2
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post("/admin/executions/trade/kill-switch/", {"confirm": "FLATTEN EVERYTHING"})
    assert not Trade.objects.filter(status=Trade.Status.OPEN).exists()
    paused = StrategySubscription.objects.get(id=other.subscription_id)
    assert paused.is_paused and paused.pause_reason.startswith("kill switch by ")


def test_a_subscriber_sees_their_own_orders_only(paper_trade, auth_client, user):
    mine = paper_trade(SubscriptionFactory(user=user))
    paper_trade(SubscriptionFactory(user=UserFactory()))
    body = auth_client.get("/api/orders").json()
    assert [o["tradeId"] for o in body["orders"]] == [str(mine.id)]
    order = body["orders"][0]
    assert order["purpose"] == "ENTRY" and order["status"] == "FILLED"
    assert order["clientOrderId"].startswith("tp") and order["averagePrice"] == 100
    assert order["executionId"] == str(mine.execution_id)  # a refusal's reason is on its run
    assert auth_client.get(f"/api/orders?tradeId={mine.id}").json()["pagination"]["total"] == 1
    assert auth_client.get("/api/orders?tradeId=nope").json()["orders"] == []
    assert auth_client.get("/api/orders?status=REJECTED").json()["orders"] == []


def test_an_order_whose_message_was_lost_is_sent_by_the_reconciliation(
    django_capture_on_commit_callbacks,
):
    from datetime import timedelta

    from django.utils import timezone

    from executions.tasks import orders_reconcile

    subscription = SubscriptionFactory()
    trade = TradeFactory(subscription=subscription, quantity=Decimal("2"), entry=False)
    [order_id] = entry_orders_create(
        execution=trade.execution,
        entries=[
            (trade.id, subscription.broker_credential_id, "BUY", Decimal("2"), Decimal("100"))
        ],
    )  # never enqueued: the message went missing
    Order.objects.filter(id=order_id).update(created_at=timezone.now() - timedelta(minutes=5))
    with django_capture_on_commit_callbacks(execute=True):
        orders_reconcile.delay()
    assert Order.objects.get(id=order_id).status == Order.Status.FILLED
