"""The exchange side of an order: what the orders worker asks a broker, and what it answers.

`get_broker(credential)` gives a `PaperBroker` for paper credentials (a simulated exchange:
market orders fill at the platform's reference price, protections are watched by the
platform on the candles) and a `CcxtBroker` for any exchange ccxt knows (signed with the
credential, which only the orders worker can open).

Every request carries the order row's client order id. A broker call ends one of three ways:
- an `ExchangeOrder`: the exchange's own account of the order (status, fills, fee);
- `BrokerRejected`: the exchange definitely did not take it (`BrokerAuthFailed` when the
  key pair itself was refused);
- `BrokerAmbiguous`: no answer to judge by (timeout, reset, 5xx, 429): the order may or
  may not exist, and the caller must look it up by its client order id before anything
  is sent again.

The key and secret stay inside the broker object: never logged, never in an exception
message or a repr; exceptions are raised outside ccxt's except blocks, so no chained ccxt
exception (which holds the signed request) travels with them.
"""

import contextlib
import logging
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Protocol

from django.conf import settings

from accounts.services import broker_credential_open
from marketdata.exchanges import (
    PAPER,
    AccountBalance,
    ExchangeConfigError,
    account_balance,
    ccxt_exchange,
    client_settings,
    decimal_or_none,
    exchange_ids,
    market_symbol,
    public_exchange,
    scrub,
)

from .ratelimit import rate_limit_wait
from .trading.enums import Side

logger = logging.getLogger(__name__)

SIDES = tuple(Side.values)
MARKET, STOP_MARKET, TAKE_PROFIT_MARKET = "MARKET", "STOP_MARKET", "TAKE_PROFIT_MARKET"
# The statuses an exchange answers, named as the platform's Order.Status.
SUBMITTED, PARTIALLY_FILLED, FILLED = "SUBMITTED", "PARTIALLY_FILLED", "FILLED"
CANCELLED, REJECTED, EXPIRED = "CANCELLED", "REJECTED", "EXPIRED"


class BrokerError(Exception):
    """A broker call failed. The message is safe to store and show: it never holds a
    credential."""


class BrokerRejected(BrokerError):
    """The exchange refused: the order does not exist there."""


class BrokerAuthFailed(BrokerRejected):
    """The exchange refused the key pair itself."""


class BrokerAmbiguous(BrokerError):
    """No answer to judge by: the order may exist. Look it up before sending it again."""


@dataclass(frozen=True)
class OrderRequest:
    symbol: str  # the platform's symbol, e.g. BTCUSDT
    side: str  # BUY or SELL
    type: str  # MARKET, STOP_MARKET or TAKE_PROFIT_MARKET
    quantity: Decimal
    client_order_id: str
    reduce_only: bool = False
    trigger_price: Decimal | None = None
    # The platform's price for the order (a paper market order fills at it).
    reference_price: Decimal | None = None

    @property
    def conditional(self) -> bool:
        return self.type != MARKET


@dataclass(frozen=True)
class ExchangeOrder:
    exchange_order_id: str
    status: str
    filled: Decimal = Decimal(0)
    average_price: Decimal | None = None
    fee: Decimal = Decimal(0)
    client_order_id: str = ""


@dataclass(frozen=True)
class MarketRules:
    """The exchange's rules for one market, as ccxt reports them (None: no rule)."""

    amount_step: Decimal | None = None
    price_tick: Decimal | None = None
    min_amount: Decimal | None = None
    min_notional: Decimal | None = None
    quote: str = "USDT"
    # A contract (swap, future) ties up notional / leverage of margin; spot the notional.
    contract: bool = False

    def quantity_down(self, quantity: Decimal) -> Decimal:
        if self.amount_step is None:
            return quantity
        return (quantity / self.amount_step).to_integral_value(ROUND_DOWN) * self.amount_step

    def price_rounded(self, price: Decimal) -> Decimal:
        if self.price_tick is None:
            return price
        return (price / self.price_tick).to_integral_value() * self.price_tick


class Broker(Protocol):
    name: str
    # Stop-loss and take-profit orders rest on the exchange (reduce-only); otherwise the
    # platform watches the levels on the candles and sends a reduce-only market order.
    native_protections: bool

    def rules(self, symbol: str) -> MarketRules: ...
    def free_balance(self, currency: str) -> Decimal | None: ...
    def submit(self, request: OrderRequest) -> ExchangeOrder: ...
    def fetch(self, request: OrderRequest) -> ExchangeOrder | None: ...
    def cancel(self, request: OrderRequest) -> None: ...
    def positions(self) -> dict[str, Decimal]: ...


def _check_order(request: OrderRequest) -> None:
    if request.side not in SIDES:
        raise BrokerRejected(f"Unknown order side {request.side!r}")
    if not request.quantity.is_finite() or request.quantity <= 0:
        raise BrokerRejected("The order quantity must be positive")


@dataclass(frozen=True)
class Fill:
    price: Decimal
    quantity: Decimal
    external_id: str


class _EntryOrderInline:
    """The engine's inline market entry (until the candle close writes ENTRY orders for
    the orders worker instead): one market order, answered as a Fill."""

    def place_entry_order(
        self, *, symbol: str, side: str, quantity: Decimal, price: Decimal
    ) -> Fill:
        request = OrderRequest(
            symbol=symbol,
            side=side.upper(),
            type=MARKET,
            quantity=self.rules(symbol).quantity_down(quantity),
            client_order_id=f"tp{uuid.uuid4().hex}",
            reference_price=price,
        )
        answer = self.submit(request)
        if not answer.filled:
            raise BrokerRejected(f"{self.name} order {answer.exchange_order_id} was not filled")
        return Fill(
            price=answer.average_price or price,
            quantity=answer.filled,
            external_id=answer.exchange_order_id,
        )


class PaperBroker(_EntryOrderInline):
    """The simulated exchange of paper credentials: a market order fills whole at its
    reference price (the candle close it was decided on, or the level a watched stop or
    target was touched at), with `PAPER_FEE_RATE` times the notional as its fee. It holds no
    state: the platform's book is the paper account, so there is nothing to reconcile."""

    name = PAPER
    native_protections = False

    def rules(self, symbol: str) -> MarketRules:
        # A simulated contract account: shorts and leverage as the engine sized them.
        return MarketRules(contract=True)

    def free_balance(self, currency: str) -> Decimal | None:
        return None  # unlimited: the subscription's capital is the only bound

    def submit(self, request: OrderRequest) -> ExchangeOrder:
        _check_order(request)
        if request.conditional:
            raise BrokerRejected("paper protections are watched, not placed")
        price = request.reference_price
        if price is None or not price.is_finite() or price <= 0:
            raise BrokerRejected("a paper order needs a positive reference price")
        return ExchangeOrder(
            exchange_order_id=f"paper-{uuid.uuid4().hex}",
            status=FILLED,
            filled=request.quantity,
            average_price=price,
            fee=request.quantity * price * settings.PAPER_FEE_RATE,
            client_order_id=request.client_order_id,
        )

    def fetch(self, request: OrderRequest) -> ExchangeOrder | None:
        return None  # a paper order is never left ambiguous

    def cancel(self, request: OrderRequest) -> None:
        return None

    def positions(self) -> dict[str, Decimal]:
        return {}


_CCXT_STATUS = {"open": SUBMITTED, "closed": FILLED, "canceled": CANCELLED}


class CcxtBroker(_EntryOrderInline):
    """Orders on a ccxt exchange with the subscriber's key pair: market orders, and
    reduce-only stop-market / take-profit-market protections where the market is a
    contract (USD-M futures on the stand-in). Requests wait for the exchange's shared
    rate limit (`ratelimit`) across every orders-worker process."""

    def __init__(self, *, exchange_id: str, api_key: str, secret: str):
        self.name = exchange_id
        self._api_key = api_key
        self._secret = secret

    def __repr__(self) -> str:
        return f"<CcxtBroker {self.name}>"

    @property
    def native_protections(self) -> bool:
        """Reduce-only stop and take-profit orders exist on contract markets (this
        client's default type); a spot account has no position to reduce."""
        return self._exchange().options.get("defaultType") in ("swap", "future")

    def _fail(self, cls, message: str) -> BrokerError:
        return cls(scrub(message, self._api_key, self._secret))

    def _exchange(self):
        """This thread's credential-less client of the exchange, markets loaded. No
        answer to the market list is BrokerAmbiguous (nothing was sent: try later)."""
        import ccxt

        failure = None
        try:
            return thread_client(self.name)
        except ccxt.BaseError as exc:
            failure = f"{self.name} gave no market list: {type(exc).__name__}: {exc}"
        raise self._fail(BrokerAmbiguous, failure)

    def _call(self, what: str, method: str, *args, **kwargs):
        """One signed request, classified: BrokerAuthFailed / BrokerRejected /
        BrokerAmbiguous, raised outside the except block."""
        import ccxt

        failure = None
        try:
            exchange = self._exchange()
            rate_limit_wait(self.name)
            with _signed(exchange, self._api_key, self._secret):
                return getattr(exchange, method)(*args, **kwargs)
        except ExchangeConfigError as exc:
            failure = (BrokerRejected, str(exc))
        except (ccxt.AuthenticationError, ccxt.PermissionDenied, ccxt.AccountSuspended) as exc:
            failure = (BrokerAuthFailed, f"{self.name} refused the API key: {exc}")
        except ccxt.OrderNotFound as exc:
            failure = (_NotFound, str(exc))
        except ccxt.InsufficientFunds as exc:
            failure = (BrokerRejected, f"{self.name}: insufficient balance: {exc}")
        except ccxt.ExchangeError as exc:
            failure = (
                BrokerRejected,
                f"{self.name} rejected {what}: {type(exc).__name__}: {exc}",
            )
        except ccxt.BaseError as exc:
            failure = (
                BrokerAmbiguous,
                f"{self.name} gave no answer to {what}: {type(exc).__name__}: {exc}",
            )
        raise self._fail(*failure)

    def _symbol(self, symbol: str) -> str:
        return market_symbol(self._exchange(), symbol)

    def rules(self, symbol: str) -> MarketRules:
        exchange = self._exchange()
        market = exchange.market(self._symbol(symbol))
        precision, limits = market.get("precision") or {}, market.get("limits") or {}

        def step(value) -> Decimal | None:
            if value is None:
                return None
            import ccxt

            if exchange.precisionMode == ccxt.TICK_SIZE:
                return decimal_or_none(value)
            return Decimal(1).scaleb(-int(value))

        return MarketRules(
            amount_step=step(precision.get("amount")),
            price_tick=step(precision.get("price")),
            min_amount=decimal_or_none((limits.get("amount") or {}).get("min")),
            min_notional=decimal_or_none((limits.get("cost") or {}).get("min")),
            quote=market.get("settle") or market["quote"],
            contract=bool(market.get("contract")),
        )

    def free_balance(self, currency: str) -> Decimal | None:
        return self.balance(currency).free

    def balance(self, currency: str) -> AccountBalance:
        """The account's free and total `currency` (executions.balances snapshots it)."""
        return account_balance(self._call("the balance", "fetch_balance"), currency)

    def _params(self, request: OrderRequest) -> dict:
        params = {"clientOrderId": request.client_order_id}
        if request.reduce_only and self.native_protections:
            # A spot account has no position to reduce: a closing sell is a plain sell.
            params["reduceOnly"] = True
        if request.type == STOP_MARKET:
            params["stopLossPrice"] = str(request.trigger_price)
        elif request.type == TAKE_PROFIT_MARKET:
            params["takeProfitPrice"] = str(request.trigger_price)
        return params

    def submit(self, request: OrderRequest) -> ExchangeOrder:
        _check_order(request)
        symbol = self._symbol(request.symbol)
        # The quantity is already rounded down to the market's step (orders.order_rules_check):
        # its exact decimal string is what goes out.
        order = self._call(
            "the order",
            "create_order",
            symbol,
            "market",
            request.side.lower(),
            str(request.quantity),
            None,
            self._params(request),
        )
        return self._answer(order, symbol)

    def fetch(self, request: OrderRequest) -> ExchangeOrder | None:
        """The order with this client order id, or None when the exchange has none."""
        symbol = self._symbol(request.symbol)
        params = {"clientOrderId": request.client_order_id}
        if request.conditional:
            params["trigger"] = True
        try:
            order = self._call("the lookup", "fetch_order", None, symbol, params)
        except _NotFound:
            return None
        return self._answer(order, symbol)

    def cancel(self, request: OrderRequest) -> None:
        symbol = self._symbol(request.symbol)
        params = {"clientOrderId": request.client_order_id}
        if request.conditional:
            params["trigger"] = True
        try:
            self._call("the cancel", "cancel_order", None, symbol, params)
        except _NotFound:
            return None  # gone already (filled or cancelled): the caller fetches to know which

    def positions(self) -> dict[str, Decimal]:
        """Net signed position per platform symbol (contracts; spot has none)."""
        rows = self._call("the positions", "fetch_positions")
        positions = {}
        for row in rows:
            contracts = decimal_or_none(row.get("contracts")) or Decimal(0)
            if contracts:
                signed = contracts if row.get("side") == "long" else -contracts
                market_id = (row.get("info") or {}).get("symbol") or row["symbol"]
                positions[market_id] = positions.get(market_id, Decimal(0)) + signed
        return positions

    def _answer(self, order: dict, symbol: str) -> ExchangeOrder:
        info = order.get("info") or {}
        status = _CCXT_STATUS.get(order.get("status"))
        if status is None:
            status = {"rejected": REJECTED, "expired": EXPIRED}.get(order.get("status"), SUBMITTED)
        filled = decimal_or_none(order.get("filled")) or Decimal(0)
        actual = info.get("actualOrderId")
        if status == FILLED and not filled and actual:
            # A triggered conditional order (Binance's algo service): the fills are on the
            # market order it became.
            return self._answer(
                self._call("the lookup", "fetch_order", str(actual), symbol), symbol
            )
        if status == SUBMITTED and filled:
            status = PARTIALLY_FILLED
        if status in (CANCELLED, EXPIRED) and filled:
            status = PARTIALLY_FILLED if status == CANCELLED else status
        average = decimal_or_none(order.get("average"))
        cost = decimal_or_none(order.get("cost"))
        if average is None and cost and filled:
            average = cost / filled
        fee = Decimal(0)
        if filled:
            fee = self._fee(order, symbol)
        return ExchangeOrder(
            exchange_order_id=str(order.get("id") or ""),
            status=status,
            filled=filled,
            average_price=average,
            fee=fee,
            client_order_id=str(order.get("clientOrderId") or ""),
        )

    def _fee(self, order: dict, symbol: str) -> Decimal:
        """The order's fee in the quote currency: the order's own when it reports one,
        else the sum over its trades."""
        reported = (order.get("fee") or {}).get("cost")
        if reported is not None:
            return decimal_or_none(reported) or Decimal(0)
        # fetchOrderTrades is spot-only on Binance: the account's trades of this order.
        trades = self._call(
            "the fills", "fetch_my_trades", symbol, None, None, {"orderId": str(order["id"])}
        )
        return sum(
            (
                decimal_or_none((trade.get("fee") or {}).get("cost")) or Decimal(0)
                for trade in trades
            ),
            Decimal(0),
        )


class _NotFound(BrokerRejected):
    """The exchange has no such order (internal to CcxtBroker's lookups)."""


# One ccxt client per orders-worker thread and exchange, shared by every credential the
# thread serves: building a client (and giving it the market list) costs more CPU than
# the order itself, and 1,000 subscribers would mean 1,000 clients. A client holds a
# credential only for the duration of one call (`_signed`).
_threads = threading.local()


def thread_client(exchange_id: str):
    """This thread's credential-less client of `exchange_id`, with the shared public
    client's markets (given again when that client renews them)."""
    clients = _threads.__dict__.setdefault("clients", {})
    built_from = client_settings(exchange_id)
    markets = public_exchange(exchange_id).load_markets()
    kept = clients.get(exchange_id)
    if kept is None or kept[0] != built_from:
        kept = (built_from, ccxt_exchange(exchange_id), None)
    if kept[2] is not markets:
        kept[1].set_markets(markets)
        kept = (built_from, kept[1], markets)
    clients[exchange_id] = kept
    return kept[1]


@contextlib.contextmanager
def _signed(exchange, api_key: str, secret: str):
    """The client signs with this credential inside the block. Afterwards it is as it was
    before: no key or secret, none of ccxt's per-account caches (e.g. binance's
    `hasAlreadyAuthenticatedSuccessfully`, which turns a refused key into a "temporary
    ban", or the account's leverage brackets) and none of its traces of the request (the
    last request's headers carry the key, its URL the signature)."""
    attributes, options = dict(exchange.__dict__), dict(exchange.options)
    exchange.apiKey, exchange.secret = api_key, secret
    try:
        yield exchange
    finally:
        exchange.__dict__.clear()
        exchange.__dict__.update(attributes)
        exchange.options.clear()
        exchange.options.update(options)


# Opened credentials, kept by the orders worker between orders (opening a sealed one is
# public-key cryptography). Bounded; a credential's entry goes when it is deactivated
# (`broker_forget`).
_BROKERS: "OrderedDict[str, CcxtBroker]" = OrderedDict()
_BROKERS_LOCK = threading.Lock()
_BROKERS_MAX = 4096
_PAPER_BROKER = PaperBroker()


def broker_exchange(broker_name: str) -> str:
    """The exchange id of a credential's `broker_name` (ccxt's, or "paper")."""
    return (broker_name or "").strip().lower()


def get_broker(credential) -> Broker:
    """The broker for an `accounts.BrokerCredential`, opened with the orders worker's
    private key (anywhere else opening raises crypto.NoPrivateKey)."""
    name = broker_exchange(credential.broker_name)
    if name == PAPER:
        return _PAPER_BROKER
    if name not in exchange_ids():
        raise BrokerRejected(f"Unsupported broker {credential.broker_name!r}")
    key = str(credential.id)
    with _BROKERS_LOCK:
        broker = _BROKERS.get(key)
        if broker is not None:
            _BROKERS.move_to_end(key)
            return broker
    secrets = broker_credential_open(credential=credential)
    broker = CcxtBroker(exchange_id=name, api_key=secrets.api_key, secret=secrets.secret)
    with _BROKERS_LOCK:
        _BROKERS[key] = broker
        while len(_BROKERS) > _BROKERS_MAX:
            _BROKERS.popitem(last=False)
    return broker


def broker_forget(credential_id) -> None:
    with _BROKERS_LOCK:
        _BROKERS.pop(str(credential_id), None)
