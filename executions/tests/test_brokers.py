"""Brokers against the stand-in exchange (ccxt's binanceusdm): signed requests, client
order ids, reduce-only protections, lookups, and every failure classified without a
credential in any message."""

import gc
import logging
from decimal import Decimal
from urllib.parse import parse_qs

import pytest

from accounts.tests.factories import BrokerCredentialFactory
from executions.brokers import (
    FILLED,
    MARKET,
    STOP_MARKET,
    SUBMITTED,
    TAKE_PROFIT_MARKET,
    BrokerAmbiguous,
    BrokerAuthFailed,
    BrokerRejected,
    CcxtBroker,
    OrderRequest,
    PaperBroker,
    get_broker,
)
from marketdata.exchange_standin import CCXT_OPTIONS, TAKER_FEE, Fault, StandInExchange

API_KEY = "standin-key-0123456789-WXYZ"
API_SECRET = "standin-secret-do-not-leak-42"


@pytest.fixture
def exchange(settings):
    with StandInExchange(accounts={API_KEY: API_SECRET}) as standin:
        settings.CCXT_API_URL = standin.url
        settings.CCXT_OPTIONS = CCXT_OPTIONS
        settings.CCXT_TIMEOUT_MS = 1000
        yield standin


def broker(key=API_KEY, secret=API_SECRET):
    return CcxtBroker(exchange_id="binanceusdm", api_key=key, secret=secret)


def market(client_id="tp-entry-1", side="BUY", quantity="0.123", reduce_only=False):
    return OrderRequest(
        symbol="BTCUSDT",
        side=side,
        type=MARKET,
        quantity=Decimal(quantity),
        client_order_id=client_id,
        reduce_only=reduce_only,
        reference_price=Decimal("42000"),
    )


def protection(kind, trigger, client_id):
    return OrderRequest(
        symbol="BTCUSDT",
        side="SELL",
        type=kind,
        quantity=Decimal("0.123"),
        client_order_id=client_id,
        reduce_only=True,
        trigger_price=Decimal(trigger),
    )


def test_paper_broker_fills_at_the_reference_price(settings):
    settings.PAPER_FEE_RATE = Decimal("0.001")
    answer = PaperBroker().submit(market(side="SELL"))
    assert (answer.status, answer.filled, answer.average_price) == (
        FILLED,
        Decimal("0.123"),
        Decimal("42000"),
    )
    assert answer.fee == Decimal("0.123") * 42000 * Decimal("0.001")
    assert PaperBroker().submit(market()).exchange_order_id != answer.exchange_order_id
    with pytest.raises(BrokerRejected, match="quantity"):
        PaperBroker().submit(market(quantity="0"))


@pytest.mark.django_db
def test_get_broker_picks_by_the_credential_broker_name(orders_worker_keys):
    assert isinstance(get_broker(BrokerCredentialFactory()), PaperBroker)
    credential = BrokerCredentialFactory(broker_name="BinanceUSDM")
    chosen = get_broker(credential)
    assert isinstance(chosen, CcxtBroker) and chosen.name == "binanceusdm"
    assert get_broker(credential) is chosen  # opened once, kept
    with pytest.raises(BrokerRejected, match="Unsupported broker 'acme'"):
        get_broker(BrokerCredentialFactory(broker_name="acme"))


def test_a_market_order_carries_the_client_id_and_books_fills_and_fee(exchange):
    answer = broker().submit(market())
    assert answer.status == FILLED and answer.client_order_id == "tp-entry-1"
    assert answer.filled == Decimal("0.123") and answer.average_price == Decimal("42000")
    assert answer.fee == Decimal("0.123") * 42000 * TAKER_FEE
    sent = next(r for r in exchange.requests if r["path"] == "/fapi/v1/order")
    assert sent["headers"]["X-MBX-APIKEY"] == API_KEY and API_SECRET not in sent["query"]
    query = parse_qs(sent["query"])
    assert query["newClientOrderId"] == ["tp-entry-1"] and query["quantity"] == ["0.123"]
    assert query["type"] == ["MARKET"] and "signature" in query
    assert broker().fetch(market()).exchange_order_id == answer.exchange_order_id
    assert broker().fetch(market(client_id="never-sent")) is None


def test_protections_are_reduce_only_conditional_orders(exchange):
    entry = broker().submit(market())
    stop = broker().submit(protection(STOP_MARKET, "41000", "tp-stop-1"))
    target = broker().submit(protection(TAKE_PROFIT_MARKET, "43000", "tp-target-1"))
    assert stop.status == SUBMITTED and target.status == SUBMITTED
    algo = [parse_qs(r["query"]) for r in exchange.requests if r["path"] == "/fapi/v1/algoOrder"]
    assert [q["type"] for q in algo] == [["STOP_MARKET"], ["TAKE_PROFIT_MARKET"]]
    assert all(q["reduceOnly"] == ["true"] for q in algo)
    assert [q["clientAlgoId"] for q in algo] == [["tp-stop-1"], ["tp-target-1"]]
    assert broker().positions() == {"BTCUSDT": entry.filled}
    exchange.book.feed_candle("BTCUSDT", "42000", "42100", "40500", "41200")
    triggered = broker().fetch(protection(STOP_MARKET, "41000", "tp-stop-1"))
    assert triggered.status == FILLED and triggered.average_price == Decimal("41000")
    assert triggered.filled == Decimal("0.123") and triggered.fee > 0
    broker().cancel(protection(TAKE_PROFIT_MARKET, "43000", "tp-target-1"))
    assert broker().fetch(protection(TAKE_PROFIT_MARKET, "43000", "tp-target-1")).status == (
        "CANCELLED"
    )
    assert broker().positions() == {}


def test_rules_come_from_the_market(exchange):
    rules = broker().rules("BTCUSDT")
    assert rules.amount_step == Decimal("0.001") and rules.price_tick == Decimal("0.1")
    assert rules.min_amount == Decimal("0.001") and rules.min_notional == Decimal("5")
    assert rules.contract and rules.quote == "USDT"
    assert rules.quantity_down(Decimal("0.12399")) == Decimal("0.123")
    assert broker().free_balance("USDT") == Decimal("10000")


@pytest.mark.parametrize("kind", ["timeout", "reset", "5xx", "5xx_after", "429"])
def test_no_answer_is_ambiguous(exchange, kind):
    exchange.inject(Fault(kind, path="/fapi/v1/order", method="POST", seconds=2))
    with pytest.raises(BrokerAmbiguous) as raised:
        broker().submit(market())
    assert raised.value.__cause__ is None and raised.value.__context__ is None
    placed = [o for o in exchange.book.orders.values() if o["clientOrderId"] == "tp-entry-1"]
    # Only the faults that answer after carrying the order out leave one behind.
    assert len(placed) == (1 if kind in ("timeout", "reset", "5xx_after") else 0)


def test_a_refusal_is_a_rejection(exchange):
    exchange.inject(
        Fault(
            "reject",
            path="/fapi/v1/order",
            method="POST",
            code=-2019,
            message="Margin is insufficient.",
        )
    )
    with pytest.raises(BrokerRejected, match=r"insufficient|Margin"):
        broker().submit(market())
    with pytest.raises(BrokerRejected, match="ReduceOnly"):
        broker().submit(market(side="SELL", reduce_only=True))  # no position to reduce


@pytest.mark.parametrize(
    ("key", "secret"), [(API_KEY, "wrong-secret-value"), ("unknown-key-1234", API_SECRET)]
)
def test_refused_keys_never_reveal_the_credential(exchange, caplog, key, secret):
    client = broker(key, secret)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(BrokerAuthFailed) as raised:
        client.submit(market())
    for text in (str(raised.value), repr(client), caplog.text):
        assert key not in text and secret not in text
    assert raised.value.__cause__ is None and raised.value.__context__ is None
    assert not exchange.book.orders


def test_an_unreachable_exchange_is_ambiguous(settings):
    with StandInExchange() as standin:
        url = standin.url
        settings.CCXT_OPTIONS = CCXT_OPTIONS
        settings.CCXT_API_URL = url
        client = broker()
        client.rules("BTCUSDT")  # the markets, while it still answers
    with pytest.raises(BrokerAmbiguous, match="no answer") as raised:
        client.submit(market())
    assert API_SECRET not in str(raised.value)


def _ccxt_clients():
    import ccxt

    gc.collect()  # clients earlier tests dropped are not counted
    # type(), not isinstance(): a dead weak proxy among the objects raises on __class__.
    return [o for o in gc.get_objects() if issubclass(type(o), ccxt.Exchange)]


def test_credentials_served_by_one_thread_share_one_client_that_keeps_no_key(exchange):
    others = {f"standin-key-{n}": f"standin-secret-{n}" for n in range(3)}
    for key, secret in others.items():
        exchange.book.add_account(key, secret)
    broker().rules("BTCUSDT")  # this thread's client, and the shared public one
    before = len(_ccxt_clients())
    kept = [broker(key, secret) for key, secret in others.items()]  # as get_broker keeps them
    for n, credential in enumerate(kept):
        credential.submit(market(client_id=f"tp-entry-{n}"))
        assert credential.free_balance("USDT") < Decimal("10000")
    assert len(_ccxt_clients()) == before  # no client built per credential
    signed = [
        r["headers"]["X-MBX-APIKEY"] for r in exchange.requests if r["path"] == "/fapi/v1/order"
    ]
    assert signed == list(others)  # each order signed with its own credential
    for client in _ccxt_clients():  # between calls, no client holds a key or a trace of it
        traces = (client.last_request_headers, client.last_request_url, client.last_request_body)
        assert not client.apiKey and not client.secret
        assert all(key not in str(traces) for key in [API_KEY, *others])


def test_a_refused_key_after_another_credentials_success_is_refused(exchange):
    # ccxt's binance reads -2015 as a temporary ban once its client has authenticated: the
    # shared client must not carry that over from one credential to the next.
    assert broker().free_balance("USDT") == Decimal("10000")
    with pytest.raises(BrokerAuthFailed):
        broker("unknown-key-1234", API_SECRET).free_balance("USDT")


def _reachable_text(roots) -> str:
    """Every string and bytes reachable from `roots` (modules, classes and code aside)."""
    import types

    seen, stack, texts = set(), list(roots), []
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, str):
            texts.append(obj)
        elif isinstance(obj, (bytes, bytearray, memoryview)):
            texts.append(bytes(obj).decode("latin-1"))
        elif not isinstance(obj, (type, types.ModuleType, types.FunctionType, types.CodeType)):
            stack.extend(gc.get_referents(obj))
    return "\n".join(texts)


def test_nothing_reachable_from_a_shared_client_holds_a_key_secret_or_signature(exchange):
    # Every kind of call a credential makes, and every way one can end (refused, faults
    # mid-request, a lookup nested in an answer), then the whole object graph of the
    # thread's clients (options, markets, session, connection pools, throttler).
    other_key, other_secret = "standin-key-other-5678", "standin-secret-other-99"
    exchange.book.add_account(other_key, other_secret)
    mine, theirs = broker(), broker(other_key, other_secret)
    mine.submit(market())
    mine.fetch(market())
    mine.submit(protection(STOP_MARKET, "41000", "tp-stop-1"))
    mine.cancel(protection(STOP_MARKET, "41000", "tp-stop-1"))
    mine.positions()
    theirs.free_balance("USDT")
    for kind in ("timeout", "reset", "5xx"):
        exchange.inject(Fault(kind, path="/fapi/v1/order", method="POST", seconds=2))
        with pytest.raises(BrokerAmbiguous):
            theirs.submit(market(client_id=f"tp-{kind}"))
    with pytest.raises(BrokerAuthFailed):
        broker(other_key, "a-wrong-secret-for-them").submit(market(client_id="tp-refused"))
    signatures = [
        parse_qs(r["query"])["signature"][0]
        for r in exchange.requests
        if "signature=" in r["query"]
    ]
    assert len(signatures) > 8
    text = _reachable_text(_ccxt_clients())
    for secret in (API_KEY, API_SECRET, other_key, other_secret, *signatures):
        assert secret not in text
