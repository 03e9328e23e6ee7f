"""The stand-in exchange itself: its matching engine, its faults, and a restart that
forgets nothing (what the order tests lean on)."""

import time
from decimal import Decimal

import pytest

from executions.brokers import (
    FILLED,
    MARKET,
    PARTIALLY_FILLED,
    STOP_MARKET,
    BrokerAmbiguous,
    CcxtBroker,
    OrderRequest,
)
from marketdata.exchange_standin import CCXT_OPTIONS, Fault, StandInExchange

KEY, SECRET = "standin-key-0123456789", "standin-secret-0123456789"


@pytest.fixture
def use(settings):
    def point(standin):
        settings.CCXT_API_URL = standin.url
        settings.CCXT_OPTIONS = CCXT_OPTIONS
        settings.CCXT_TIMEOUT_MS = 1000
        return CcxtBroker(exchange_id="binanceusdm", api_key=KEY, secret=SECRET)

    return point


def buy(client_id, quantity="0.5"):
    return OrderRequest(
        symbol="BTCUSDT",
        side="BUY",
        type=MARKET,
        quantity=Decimal(quantity),
        client_order_id=client_id,
    )


def stop(client_id, trigger, quantity="0.5"):
    return OrderRequest(
        symbol="BTCUSDT",
        side="SELL",
        type=STOP_MARKET,
        quantity=Decimal(quantity),
        client_order_id=client_id,
        reduce_only=True,
        trigger_price=Decimal(trigger),
    )


def test_a_restart_forgets_nothing(tmp_path, use):
    journal = tmp_path / "standin.jsonl"
    with StandInExchange(accounts={KEY: SECRET}, state_file=journal) as standin:
        broker = use(standin)
        entry = broker.submit(buy("entry-1"))
        broker.submit(stop("stop-1", "41000"))
        before = standin.snapshot()
        standin.restart()  # same port, a new book read from the journal alone
        assert standin.snapshot() == before
        assert broker.fetch(buy("entry-1")) == entry
        assert broker.positions() == {"BTCUSDT": Decimal("0.5")}
    with StandInExchange(state_file=journal) as again:  # a new process, the same file
        assert again.snapshot() == before
        again.book.feed_candle("BTCUSDT", "42000", "42000", "40000", "40500")
        assert again.book.position_amount(KEY, "BTCUSDT") == 0


def test_stops_fill_at_the_trigger_or_at_a_gapped_open(use):
    with StandInExchange(accounts={KEY: SECRET}) as standin:
        broker = use(standin)
        broker.submit(buy("entry-1", "1"))
        broker.submit(stop("stop-1", "41000", "1"))
        standin.book.feed_candle("BTCUSDT", "40000", "40100", "39000", "39500")  # gap down
        assert broker.fetch(stop("stop-1", "41000")).average_price == Decimal("40000")
        wallet = Decimal(standin.book.accounts[KEY]["wallet"])
        fees = (Decimal(42000) + Decimal(40000)) * Decimal("0.0004")
        assert wallet == Decimal(10000) - 2000 - fees


def test_a_partial_fill_completes_at_the_next_price(use):
    with StandInExchange(accounts={KEY: SECRET}) as standin:
        standin.inject(Fault("partial", path="/fapi/v1/order", method="POST", fraction="0.4"))
        broker = use(standin)
        first = broker.submit(buy("entry-1", "1"))
        assert (first.status, first.filled) == (PARTIALLY_FILLED, Decimal("0.4"))
        standin.book.set_price("BTCUSDT", "42100")
        done = broker.fetch(buy("entry-1"))
        assert (done.status, done.filled) == (FILLED, Decimal("1"))
        assert done.average_price == (Decimal("0.4") * 42000 + Decimal("0.6") * 42100)


def test_a_duplicate_client_id_is_refused_only_while_the_order_is_open(use):
    """As on Binance: this is why a retry must look the order up first."""
    with StandInExchange(accounts={KEY: SECRET}) as standin:
        broker = use(standin)
        broker.submit(buy("same-id"))
        broker.submit(buy("same-id"))  # the first is filled: a second order
        assert len(standin.book.orders) == 2


def test_rate_limit_and_latency(use):
    with StandInExchange(accounts={KEY: SECRET}, rate_limit=8, latency=0.05) as standin:
        broker = use(standin)
        broker.rules("BTCUSDT")  # the markets: two requests
        started = time.monotonic()
        broker.free_balance("USDT")
        assert time.monotonic() - started >= 0.05
        with pytest.raises(BrokerAmbiguous, match="DDoSProtection"):
            for _ in range(20):
                broker.free_balance("USDT")
