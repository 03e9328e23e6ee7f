"""Placing a trade's entry order with the subscriber's broker.

`get_broker(credential)` answers a `PaperBroker` for paper credentials (fills at the
price asked, no network) and a `CcxtBroker` for any exchange ccxt knows, which sends a
market order signed with the subscriber's decrypted key. The key and secret stay inside
the broker object: never logged, never in an exception message or a repr.
"""

import logging
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from marketdata.exchanges import (
    PAPER,
    ExchangeConfigError,
    ccxt_exchange,
    exchange_ids,
    market_symbol,
    public_exchange,
    scrub,
)

from .trading.enums import Side

logger = logging.getLogger(__name__)


class BrokerError(Exception):
    """The order was not placed (rejected, network, unknown broker). The message is safe
    to store and show: it never holds a credential."""


@dataclass(frozen=True)
class Fill:
    price: Decimal
    quantity: Decimal
    external_id: str


class Broker(Protocol):
    name: str

    def place_entry_order(
        self, *, symbol: str, side: str, quantity: Decimal, price: Decimal
    ) -> Fill: ...


def _check_order(side: str, quantity: Decimal, price: Decimal) -> str:
    side = side.upper()
    if side not in Side.values:
        raise BrokerError(f"Unknown order side {side!r}")
    if not quantity.is_finite() or quantity <= 0:
        raise BrokerError("The order quantity must be positive")
    if not price.is_finite() or price <= 0:
        raise BrokerError("The order price must be positive")
    return side


class PaperBroker:
    """Simulated execution: fills the whole quantity at the price asked."""

    name = PAPER

    def place_entry_order(
        self, *, symbol: str, side: str, quantity: Decimal, price: Decimal
    ) -> Fill:
        _check_order(side, quantity, price)
        return Fill(price=price, quantity=quantity, external_id=f"paper-{uuid.uuid4().hex}")


def _decimal(value) -> Decimal | None:
    if value is None:
        return None
    number = Decimal(str(value))
    return number if number.is_finite() else None


class CcxtBroker:
    """A market order on a ccxt exchange with the subscriber's key pair."""

    def __init__(self, *, exchange_id: str, api_key: str, secret: str):
        self.name = exchange_id
        self._api_key = api_key
        self._secret = secret

    def __repr__(self) -> str:
        return f"<CcxtBroker {self.name}>"

    def _fail(self, message: str) -> BrokerError:
        return BrokerError(scrub(message, self._api_key, self._secret))

    def place_entry_order(
        self, *, symbol: str, side: str, quantity: Decimal, price: Decimal
    ) -> Fill:
        import ccxt

        side = _check_order(side, quantity, price)
        failure = None
        try:
            exchange = ccxt_exchange(self.name, api_key=self._api_key, secret=self._secret)
            # The market list is public: borrow the shared client's instead of loading it
            # again for every order.
            exchange.set_markets(public_exchange(self.name).load_markets())
            market = market_symbol(exchange, symbol)
            # ccxt takes the amount as a number and rounds it to the market's lot size.
            order = exchange.create_order(market, "market", side.lower(), float(quantity))
        except ExchangeConfigError as exc:
            failure = str(exc)
        except ccxt.BaseError as exc:
            failure = f"{self.name} rejected the order: {type(exc).__name__}: {exc}"
        if failure is not None:
            # Raised outside the except block: no chained ccxt exception (which holds the
            # signed request) travels with it.
            raise self._fail(failure)
        filled = _decimal(order.get("filled"))
        if filled is not None and filled <= 0:
            raise self._fail(f"{self.name} order {order.get('id')} was not filled")
        fill_price = _decimal(order.get("average"))
        cost = _decimal(order.get("cost"))
        if fill_price is None and cost and filled:
            fill_price = cost / filled
        if fill_price is None or filled is None:
            logger.warning(
                "%s order %s reported no fill; assuming the asked price and quantity",
                self.name,
                order.get("id"),
            )
        return Fill(
            price=fill_price or price,
            quantity=filled or quantity,
            external_id=str(order.get("id") or ""),
        )


def get_broker(credential) -> Broker:
    """The broker for an `accounts.BrokerCredential` (decrypted on access by its fields)."""
    name = (credential.broker_name or "").strip().lower()
    if name == PAPER:
        return PaperBroker()
    if name in exchange_ids():
        return CcxtBroker(
            exchange_id=name, api_key=credential.api_key, secret=credential.api_secret
        )
    raise BrokerError(f"Unsupported broker {credential.broker_name!r}")
