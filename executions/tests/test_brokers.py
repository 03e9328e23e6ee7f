import logging
from decimal import Decimal
from urllib.parse import parse_qs

import pytest

from accounts.tests.factories import BrokerCredentialFactory
from executions.brokers import BrokerError, CcxtBroker, Fill, PaperBroker, get_broker
from marketdata.tests.binance_standin import CCXT_OPTIONS, BinanceStandIn

API_KEY = "standin-key-0123456789-WXYZ"
API_SECRET = "standin-secret-do-not-leak-42"


@pytest.fixture
def binance(settings):
    with BinanceStandIn(accounts={API_KEY: API_SECRET}) as standin:
        settings.CCXT_API_URL = standin.url
        settings.CCXT_OPTIONS = CCXT_OPTIONS
        yield standin


def order(broker, side="BUY", quantity="0.0123"):
    return broker.place_entry_order(
        symbol="BTCUSDT", side=side, quantity=Decimal(quantity), price=Decimal("42000")
    )


def assert_no_secret(text):
    assert API_KEY not in text and API_SECRET not in text


def test_paper_broker_fills_at_the_price_asked():
    fill = order(PaperBroker(), side="SELL")
    assert fill.price == Decimal("42000") and fill.quantity == Decimal("0.0123")
    assert fill.external_id.startswith("paper-")
    assert order(PaperBroker()).external_id != fill.external_id


@pytest.mark.parametrize(
    ("side", "quantity", "message"),
    [("HOLD", "1", "side"), ("BUY", "0", "quantity"), ("SELL", "-1", "quantity")],
)
def test_brokers_refuse_malformed_orders(side, quantity, message):
    with pytest.raises(BrokerError, match=message):
        order(PaperBroker(), side=side, quantity=quantity)


@pytest.mark.django_db
def test_get_broker_picks_by_the_credential_broker_name():
    assert isinstance(get_broker(BrokerCredentialFactory()), PaperBroker)
    broker = get_broker(BrokerCredentialFactory(broker_name="Binance"))
    assert isinstance(broker, CcxtBroker) and broker.name == "binance"
    with pytest.raises(BrokerError, match="Unsupported broker 'acme'"):
        get_broker(BrokerCredentialFactory(broker_name="acme"))


@pytest.mark.django_db
def test_ccxt_broker_sends_a_signed_market_order(binance):
    credential = BrokerCredentialFactory(
        broker_name="binance", api_key=API_KEY, api_secret=API_SECRET
    )
    credential.refresh_from_db()  # the broker reads the decrypted fields
    fill = order(get_broker(credential))
    assert fill == Fill(price=Decimal("42000.5"), quantity=Decimal("0.0123"), external_id="1000")
    request = binance.requests[-1]
    assert request["method"] == "POST" and request["path"] == "/api/v3/order"
    assert request["headers"]["X-MBX-APIKEY"] == API_KEY
    sent = parse_qs(request["query"])
    assert sent["symbol"] == ["BTCUSDT"] and sent["side"] == ["BUY"]
    assert sent["type"] == ["MARKET"] and sent["quantity"] == ["0.0123"]
    assert "signature" in sent  # checked by the stand-in, which refuses a bad one
    assert API_SECRET not in request["query"]


def test_ccxt_broker_sell_side_and_markets_loaded_once(binance):
    broker = CcxtBroker(exchange_id="binance", api_key=API_KEY, secret=API_SECRET)
    assert order(broker, side="sell", quantity="0.5").quantity == Decimal("0.5")
    assert parse_qs(binance.requests[-1]["query"])["side"] == ["SELL"]
    order(CcxtBroker(exchange_id="binance", api_key=API_KEY, secret=API_SECRET))
    paths = [r["path"] for r in binance.requests]
    assert paths.count("/api/v3/exchangeInfo") == 1 and paths.count("/api/v3/order") == 2


@pytest.mark.parametrize(
    ("key", "secret", "error"),
    [(API_KEY, "wrong-secret-value", "Signature"), ("unknown-key-1234", API_SECRET, "API-key")],
)
def test_rejected_orders_never_reveal_the_credential(binance, caplog, key, secret, error):
    broker = CcxtBroker(exchange_id="binance", api_key=key, secret=secret)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(BrokerError, match=error) as raised:
        order(broker)
    for text in (str(raised.value), repr(broker), caplog.text):
        assert key not in text and secret not in text
    assert raised.value.__cause__ is None and raised.value.__context__ is None
    assert not binance.orders


def test_an_unfilled_order_is_an_error(settings):
    with BinanceStandIn(accounts={API_KEY: API_SECRET}, order_status="EXPIRED") as standin:
        settings.CCXT_API_URL = standin.url
        settings.CCXT_OPTIONS = CCXT_OPTIONS
        broker = CcxtBroker(exchange_id="binance", api_key=API_KEY, secret=API_SECRET)
        with pytest.raises(BrokerError, match="was not filled"):
            order(broker)


def test_an_unreachable_exchange_is_a_broker_error(settings):
    with BinanceStandIn() as standin:
        url = standin.url
    settings.CCXT_API_URL = url  # stopped: connection refused
    settings.CCXT_OPTIONS = CCXT_OPTIONS
    broker = CcxtBroker(exchange_id="binance", api_key=API_KEY, secret=API_SECRET)
    with pytest.raises(BrokerError, match="binance rejected the order") as raised:
        order(broker)
    assert_no_secret(str(raised.value))
