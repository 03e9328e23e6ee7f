"""Orders against the stand-in exchange, one test per fault: never two exchange orders
for one row, and the platform's book equal to the stand-in's afterwards."""

from decimal import Decimal

import pytest

from accounts.models import BrokerCredential
from accounts.tests.factories import BrokerCredentialFactory
from executions.models import Order, Trade
from executions.orders import (
    book_positions,
    credential_reconcile,
    entry_orders_create,
    order_process,
    submitted_orders_reconcile,
    trades_close_request,
)
from executions.tests.factories import TradeFactory
from marketdata.exchange_standin import CCXT_OPTIONS, TAKER_FEE, Fault, StandInExchange
from subscriptions.models import StrategySubscription
from subscriptions.tests.factories import SubscriptionFactory

pytestmark = pytest.mark.django_db

KEY, SECRET = "orders-key-0123456789-ABCD", "orders-secret-0123456789"
Status = Order.Status


@pytest.fixture
def exchange(settings, orders_worker_keys, tmp_path):
    with StandInExchange(accounts={KEY: SECRET}, state_file=tmp_path / "standin.jsonl") as standin:
        settings.CCXT_API_URL = standin.url
        settings.CCXT_OPTIONS = CCXT_OPTIONS
        settings.CCXT_TIMEOUT_MS = 500
        settings.ORDERS_LOOKUP_DELAY_SECONDS = 0
        yield standin


@pytest.fixture
def run(django_capture_on_commit_callbacks):
    """Process orders as the orders worker does, follow-ups (lookups) included."""

    def process(order_id):
        with django_capture_on_commit_callbacks(execute=True):
            order_process(order_id=order_id)
        return Order.objects.get(id=order_id)

    return process


def live_trade(
    *,
    quantity="0.5",
    stop="41000",
    target="43000",
    side=Trade.Side.BUY,
    price="42000",
    broker="binanceusdm",
):
    credential = BrokerCredentialFactory(broker_name=broker, api_key=KEY, api_secret=SECRET)
    subscription = SubscriptionFactory(broker_credential=credential, user=credential.user)
    trade = TradeFactory(
        subscription=subscription,
        side=side,
        quantity=Decimal(quantity),
        entry_price=Decimal("42000"),
        stop_loss=Decimal(stop),
        take_profit=Decimal(target) if target else None,
        entry=False,
    )
    [order_id] = entry_orders_create(
        execution=trade.execution,
        entries=[(trade.id, credential.id, side, Decimal(quantity), Decimal(price))],
    )
    return trade, Order.objects.get(id=order_id)


def exchange_orders(exchange, client_id):
    return [o for o in exchange.book.orders.values() if o["clientOrderId"] == client_id]


def assert_book_equals_exchange(exchange, credential_id):
    held = {
        symbol: Decimal(position["amount"])
        for symbol, position in exchange.book.accounts[KEY]["positions"].items()
        if Decimal(position["amount"])
    }
    assert book_positions(credential_id=credential_id) == held


def test_a_filled_entry_books_its_fills_and_rests_its_protections(exchange, run):
    trade, entry = live_trade()
    entry = run(entry.id)
    assert entry.status == Status.FILLED and entry.client_order_id == f"tp{entry.id.hex}"
    assert entry.filled_quantity == Decimal("0.5") and entry.average_price == Decimal("42000")
    assert entry.fee == Decimal("0.5") * 42000 * TAKER_FEE
    assert len(exchange_orders(exchange, entry.client_order_id)) == 1
    trade.refresh_from_db()
    assert trade.protected_on_exchange and trade.fees == entry.fee
    protections = {o.purpose: o for o in trade.orders.exclude(purpose=Order.Purpose.ENTRY)}
    for order in protections.values():
        run(order.id)
    algo = {o["clientAlgoId"]: o for o in exchange.book.algo_orders.values()}
    stop, target = protections[Order.Purpose.STOP_LOSS], protections[Order.Purpose.TAKE_PROFIT]
    assert algo[stop.client_order_id]["orderType"] == "STOP_MARKET"
    assert algo[target.client_order_id]["triggerPrice"] == "43000"
    assert all(o["reduceOnly"] for o in algo.values())
    assert_book_equals_exchange(exchange, entry.credential_id)


@pytest.mark.parametrize("fault", ["timeout", "reset", "5xx_after"])
def test_an_accepted_order_without_an_answer_is_looked_up_not_resent(exchange, run, fault):
    _trade, entry = live_trade()
    exchange.inject(Fault(fault, path="/fapi/v1/order", method="POST", seconds=1.5))
    entry = run(entry.id)
    assert entry.status == Status.FILLED and entry.attempts == 1
    assert len(exchange_orders(exchange, entry.client_order_id)) == 1
    assert_book_equals_exchange(exchange, entry.credential_id)


@pytest.mark.parametrize("fault", ["5xx", "reset"])
def test_an_unanswered_market_list_leaves_the_entry_to_be_sent_later(exchange, run, fault):
    # The market list (rules, symbols) comes before the order: no answer to it is nothing
    # sent, and the order goes later, not left NEW by an error.
    _trade, entry = live_trade()
    exchange.inject(Fault(fault, path="/fapi/v1/exchangeInfo", method="GET"))
    entry = run(entry.id)
    assert entry.status == Status.FILLED and entry.attempts == 1
    assert len(exchange_orders(exchange, entry.client_order_id)) == 1


@pytest.mark.parametrize("fault", ["5xx", "429"])
def test_a_refused_request_is_sent_again_only_after_lookups_find_nothing(exchange, run, fault):
    _trade, entry = live_trade()
    exchange.inject(Fault(fault, path="/fapi/v1/order", method="POST"))
    entry = run(entry.id)
    assert entry.status == Status.FILLED and entry.attempts == 2
    assert len(exchange_orders(exchange, entry.client_order_id)) == 1
    lookups = [
        r for r in exchange.requests if r["path"] == "/fapi/v1/order" and r["method"] == "GET"
    ]
    assert len(lookups) >= 3  # ORDERS_NOT_FOUND_CONFIRMATIONS misses before the resend
    assert_book_equals_exchange(exchange, entry.credential_id)


def test_a_lookup_that_misses_once_does_not_resend(exchange, run):
    _trade, entry = live_trade()
    exchange.inject(Fault("timeout", path="/fapi/v1/order", method="POST", seconds=1.5))
    exchange.inject(Fault("not_found", path="/fapi/v1/order", method="GET"))
    entry = run(entry.id)
    assert entry.status == Status.FILLED and entry.attempts == 1
    assert len(exchange_orders(exchange, entry.client_order_id)) == 1


def test_latency_changes_nothing(exchange, run):
    exchange.latency = 0.05
    _trade, entry = live_trade()
    assert run(entry.id).status == Status.FILLED
    assert_book_equals_exchange(exchange, entry.credential_id)


def test_a_partial_fill_is_followed_until_filled(exchange, run):
    trade, entry = live_trade(quantity="1")
    exchange.inject(Fault("partial", path="/fapi/v1/order", method="POST", fraction="0.3"))
    entry = run(entry.id)
    assert entry.status == Status.PARTIALLY_FILLED and entry.filled_quantity == Decimal("0.3")
    trade.refresh_from_db()
    assert trade.quantity == Decimal("0.3") and not trade.protected_on_exchange
    exchange.book.set_price("BTCUSDT", "42100")
    entry = run(entry.id)
    assert entry.status == Status.FILLED and entry.filled_quantity == Decimal("1")
    trade.refresh_from_db()
    assert trade.quantity == Decimal("1") and trade.entry_price == Decimal("42070")
    assert trade.protected_on_exchange
    assert len(exchange_orders(exchange, entry.client_order_id)) == 1
    assert_book_equals_exchange(exchange, entry.credential_id)


def test_a_rejection_cancels_the_trade_with_the_reason(exchange, run):
    trade, entry = live_trade()
    exchange.inject(
        Fault("reject", path="/fapi/v1/order", method="POST", code=-1013, message="Filter failure")
    )
    entry = run(entry.id)
    assert entry.status == Status.REJECTED and "Filter failure" in entry.last_error
    trade.refresh_from_db()
    assert trade.status == Trade.Status.CANCELLED
    assert not exchange.book.orders


def test_exchange_rules_are_applied_before_sending(exchange, run):
    _trade, entry = live_trade(quantity="0.12345")
    assert run(entry.id).quantity == Decimal("0.123")  # rounded down to the 0.001 step
    _dust, order = live_trade(quantity="0.0004")
    assert "rounds down to zero" in run(order.id).last_error
    small, order = live_trade(quantity="0.001", price="4000")  # 4 USDT: the minimum is 5
    order = run(order.id)
    assert order.status == Status.REJECTED and "notional 4.00 USDT is under the minimum 5" in (
        order.last_error
    )
    small.refresh_from_db()
    assert small.status == Trade.Status.CANCELLED
    _rich, order = live_trade(quantity="10")  # 420,000 USDT at leverage 10: 42,000 of margin
    order = run(order.id)
    assert order.status == Status.REJECTED and "free balance" in order.last_error
    assert len(exchange.book.orders) == 1


def test_a_short_on_a_spot_account_is_never_sent(exchange, run):
    """A SELL entry on spot would sell the subscriber's own coins, not open a short."""
    trade, entry = live_trade(side=Trade.Side.SELL, broker="binance")
    entry = run(entry.id)
    assert entry.status == Status.REJECTED and "spot market" in entry.last_error
    trade.refresh_from_db()
    assert trade.status == Trade.Status.CANCELLED
    assert not exchange.book.orders
    assert not [r for r in exchange.requests if r["path"].startswith("/api/v3/order")]


def test_an_authentication_failure_stops_the_credential_and_pauses(exchange, run):
    trade, entry = live_trade()
    exchange.book.accounts[KEY]["secret"] = "rotated-by-the-user-elsewhere"
    entry = run(entry.id)
    assert entry.status == Status.REJECTED
    credential = BrokerCredential.objects.get(id=entry.credential_id)
    assert not credential.is_active and "refused" in credential.inactive_reason
    subscription = StrategySubscription.objects.get(id=trade.subscription_id)
    assert subscription.is_paused and "refused" in subscription.pause_reason
    assert SECRET not in subscription.pause_reason and KEY not in subscription.pause_reason


def test_a_stop_that_fills_on_the_exchange_closes_the_trade_and_cancels_the_target(
    exchange, run, django_capture_on_commit_callbacks
):
    trade, entry = live_trade()
    run(entry.id)
    for order in trade.orders.exclude(purpose=Order.Purpose.ENTRY):
        run(order.id)
    exchange.book.feed_candle("BTCUSDT", "42000", "42050", "40800", "40900")
    with django_capture_on_commit_callbacks(execute=True):
        assert credential_reconcile(credential_id=entry.credential_id) == {}
    trade.refresh_from_db()
    assert trade.status == Trade.Status.CLOSED and trade.exit_reason == "STOP_LOSS"
    assert trade.exit_price == Decimal("41000")
    fees = (Decimal("0.5") * 42000 + Decimal("0.5") * 41000) * TAKER_FEE
    assert trade.fees == fees and trade.pnl == Decimal("-500") - fees
    target = trade.orders.get(purpose=Order.Purpose.TAKE_PROFIT)
    assert target.status == Status.CANCELLED
    assert exchange.book.algo_orders[target.exchange_order_id]["algoStatus"] == "CANCELED"
    subscription = StrategySubscription.objects.get(id=trade.subscription_id)
    assert subscription.losing_trades == 1 and subscription.total_pnl == trade.pnl
    assert_book_equals_exchange(exchange, entry.credential_id)


def test_an_exit_cancels_the_protections_and_closes_reduce_only(
    exchange, run, django_capture_on_commit_callbacks
):
    trade, entry = live_trade()
    run(entry.id)
    for order in trade.orders.exclude(purpose=Order.Purpose.ENTRY):
        run(order.id)
    exchange.book.set_price("BTCUSDT", "42500")
    trade.refresh_from_db()
    [exit_id] = trades_close_request(
        trades=[trade], reason=Trade.ExitReason.SIGNAL, prices={trade.id: Decimal("42500")}
    )
    trade.refresh_from_db()
    assert trade.status == Trade.Status.CLOSING
    exit_order = run(exit_id)
    assert exit_order.status == Status.FILLED and exit_order.reduce_only
    trade.refresh_from_db()
    assert trade.status == Trade.Status.CLOSED and trade.exit_price == Decimal("42500")
    assert set(
        trade.orders.filter(purpose__in=["STOP_LOSS", "TAKE_PROFIT"]).values_list(
            "status", flat=True
        )
    ) == {Status.CANCELLED}
    assert not exchange.book.open_algo_orders(KEY, None)
    assert_book_equals_exchange(exchange, entry.credential_id)


def test_a_restart_of_the_exchange_between_send_and_lookup(exchange, run, settings):
    _trade, entry = live_trade()
    settings.ORDERS_LOOKUP_ROUNDS = 0  # no follow-up now: the worker "stops" here
    exchange.inject(Fault("reset", path="/fapi/v1/order", method="POST"))
    entry = run(entry.id)
    assert entry.status == Status.SUBMITTED and entry.exchange_order_id == ""
    exchange.restart()
    # The orders worker starts again: SUBMITTED orders are reconciled first.
    assert submitted_orders_reconcile() == 1
    entry.refresh_from_db()
    assert entry.status == Status.FILLED and entry.attempts == 1
    assert len(exchange_orders(exchange, entry.client_order_id)) == 1
    assert_book_equals_exchange(exchange, entry.credential_id)


def test_an_unexplained_difference_pauses_with_the_discrepancy(exchange, run):
    trade, entry = live_trade()
    run(entry.id)
    # Someone trades on the account behind the platform's back.
    exchange.book.create_order(
        KEY, {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.2"}
    )
    differences = credential_reconcile(credential_id=entry.credential_id)
    assert differences == {"BTCUSDT": (Decimal("0.7"), Decimal("0.5"))}
    subscription = StrategySubscription.objects.get(id=trade.subscription_id)
    assert subscription.is_paused
    assert "the exchange holds 0.7 BTCUSDT, the platform's book 0.5" in subscription.pause_reason


def test_a_fill_booked_twice_closes_and_counts_once(exchange, run):
    """Two deliveries looking up the same filled exit: the trade closes once."""
    from executions.brokers import get_broker
    from executions.orders import order_book, order_request

    trade, entry = live_trade(target=None)
    run(entry.id)
    run(trade.orders.get(purpose=Order.Purpose.STOP_LOSS).id)
    trade.refresh_from_db()
    [exit_id] = trades_close_request(
        trades=[trade], reason=Trade.ExitReason.EXIT, prices={trade.id: Decimal("42000")}
    )
    exit_order = run(exit_id)
    broker = get_broker(exit_order.credential)
    answer = broker.fetch(order_request(exit_order))
    order_book(order=exit_order, answer=answer, broker=broker)
    subscription = StrategySubscription.objects.get(id=trade.subscription_id)
    assert subscription.winning_trades + subscription.losing_trades == 1
