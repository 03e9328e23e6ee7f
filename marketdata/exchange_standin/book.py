"""The stand-in exchange's state and matching engine: accounts, USD-M positions, orders,
conditional (algo) orders, fills and fees. No HTTP here; `server` wraps it.

Prices move only when the test or benchmark says so: `set_price(symbol, price)` or
`feed_candle(symbol, open, high, low, close)`. Market orders fill at the current price.
Conditional orders (STOP_MARKET, TAKE_PROFIT_MARKET) trigger inside a candle the way the
platform's own paper simulation judges it: a stop is touched when the candle reaches its
trigger and fills at the trigger, or at the open when the candle opened beyond it (a gap);
a take-profit fills at its trigger, or at the open when that was better; with both of a
position's orders touched in one candle the stop goes first. A triggered order becomes a
MARKET order whose client id is the algo order's, as Binance's algo service does.

Every change is appended to a journal file (JSON lines, last write of a record wins), so a
restarted stand-in answers exactly what the old one would have: `Book.load(path)`.
"""

import json
import threading
import time
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from pathlib import Path

TAKER_FEE = Decimal("0.0004")
LEVERAGE = 20


@dataclass(frozen=True)
class Market:
    symbol: str
    base: str
    quote: str = "USDT"
    tick_size: str = "0.10"
    step_size: str = "0.001"
    min_qty: str = "0.001"
    min_notional: str = "5"


MARKETS = (
    Market("BTCUSDT", "BTC"),
    Market("ETHUSDT", "ETH", tick_size="0.01"),
)


class Rejected(Exception):
    """The exchange refuses the request: Binance's error code, message and HTTP status."""

    def __init__(self, code: int, message: str, status: int = 400):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def _d(value) -> Decimal:
    return Decimal(str(value))


def _s(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Book:
    markets: dict[str, Market] = field(default_factory=lambda: {m.symbol: m for m in MARKETS})
    accounts: dict[str, dict] = field(default_factory=dict)  # api key → account
    prices: dict[str, str] = field(default_factory=dict)
    orders: dict[str, dict] = field(default_factory=dict)  # orderId → Binance order
    algo_orders: dict[str, dict] = field(default_factory=dict)  # algoId → Binance algo order
    trades: list[dict] = field(default_factory=list)
    next_id: int = 1000
    journal: Path | None = None
    lock: threading.RLock = field(default_factory=threading.RLock)

    # -- persistence --------------------------------------------------------------------

    def _write(self, kind: str, key: str, value) -> None:
        if self.journal is None:
            return
        with self.journal.open("a") as handle:
            handle.write(json.dumps({"kind": kind, "key": key, "value": value}) + "\n")

    def _save_order(self, order: dict) -> None:
        self._write("order", str(order["orderId"]), order)

    def _save_algo(self, order: dict) -> None:
        self._write("algo", str(order["algoId"]), order)

    def _save_account(self, api_key: str) -> None:
        self._write("account", api_key, self.accounts[api_key])

    @classmethod
    def load(cls, journal: Path) -> "Book":
        book = cls(journal=None)
        if journal.exists():
            for line in journal.read_text().splitlines():
                if not line.strip():
                    continue
                record = json.loads(line)
                kind, key, value = record["kind"], record["key"], record["value"]
                if kind == "order":
                    book.orders[key] = value
                elif kind == "algo":
                    book.algo_orders[key] = value
                elif kind == "account":
                    book.accounts[key] = value
                elif kind == "price":
                    book.prices[key] = value
                elif kind == "trade":
                    book.trades.append(value)
                elif kind == "next_id":
                    book.next_id = value
        book.journal = journal
        return book

    def _id(self) -> int:
        self.next_id += 1
        self._write("next_id", "", self.next_id)
        return self.next_id

    # -- accounts and prices --------------------------------------------------------------

    def add_account(self, api_key: str, secret: str, *, balance="10000") -> None:
        with self.lock:
            self.accounts[api_key] = {"secret": secret, "wallet": str(balance), "positions": {}}
            self._save_account(api_key)

    def secret_of(self, api_key: str) -> str | None:
        account = self.accounts.get(api_key)
        return account["secret"] if account else None

    def set_price(self, symbol: str, price) -> None:
        with self.lock:
            self.prices[symbol] = str(price)
            self._write("price", symbol, str(price))
            self._fill_resting(symbol)

    def price(self, symbol: str) -> Decimal:
        if symbol not in self.prices:
            raise Rejected(-1121, "Invalid symbol.")
        return _d(self.prices[symbol])

    def position(self, api_key: str, symbol: str) -> dict:
        return self.accounts[api_key]["positions"].get(symbol) or {"amount": "0", "entry": "0"}

    def position_amount(self, api_key: str, symbol: str) -> Decimal:
        return _d(self.position(api_key, symbol)["amount"])

    # -- orders ---------------------------------------------------------------------------

    def _market(self, symbol: str) -> Market:
        market = self.markets.get(symbol)
        if market is None:
            raise Rejected(-1121, "Invalid symbol.")
        return market

    def _check_quantity(self, market: Market, quantity: Decimal) -> None:
        step = _d(market.step_size)
        if quantity <= 0 or quantity % step:
            raise Rejected(-1111, "Precision is over the maximum defined for this asset.")
        if quantity < _d(market.min_qty):
            raise Rejected(-4003, "Quantity less than or equal to zero.")

    def _client_id_taken(self, api_key: str, client_id: str) -> bool:
        return any(
            o["apiKey"] == api_key and o["clientOrderId"] == client_id
            for o in self.orders.values()
            if o["status"] in ("NEW", "PARTIALLY_FILLED")
        ) or any(
            o["apiKey"] == api_key and o["clientAlgoId"] == client_id
            for o in self.algo_orders.values()
            if o["algoStatus"] == "NEW"
        )

    def create_order(self, api_key: str, params: dict, *, fill_fraction: Decimal | None = None):
        """POST /fapi/v1/order (MARKET only, which is all the platform sends)."""
        with self.lock:
            market = self._market(params["symbol"])
            if params.get("type") != "MARKET":
                raise Rejected(-1116, "Invalid orderType.")
            side = params["side"]
            quantity = _d(params["quantity"])
            self._check_quantity(market, quantity)
            client_id = params.get("newClientOrderId") or f"standin-{self.next_id + 1}"
            if self._client_id_taken(api_key, client_id):
                raise Rejected(-4015, "Client order id is not valid.")
            reduce_only = str(params.get("reduceOnly", "false")).lower() == "true"
            price = self.price(market.symbol)
            if reduce_only:
                quantity = self._reduce_only_quantity(api_key, market.symbol, side, quantity)
            else:
                self._check_margin(api_key, quantity * price)
            order = {
                **self.orders_template(),
                "orderId": self._id(),
                "symbol": market.symbol,
                "clientOrderId": client_id,
                "origQty": _s(quantity),
                "reduceOnly": reduce_only,
                "side": side,
                "stopPrice": "0",
                "origType": "MARKET",
                "time": _now_ms(),
                "updateTime": _now_ms(),
                "apiKey": api_key,
            }
            self.orders[str(order["orderId"])] = order
            first = quantity
            if fill_fraction is not None:
                first = (quantity * fill_fraction).quantize(_d(market.step_size), ROUND_DOWN)
            self._fill(order, first, price)
            return self.public(order)

    def _reduce_only_quantity(self, api_key, symbol, side, quantity) -> Decimal:
        held = self.position_amount(api_key, symbol)
        closing = (held > 0 and side == "SELL") or (held < 0 and side == "BUY")
        if not closing:
            raise Rejected(-2022, "ReduceOnly Order is rejected.")
        return min(quantity, abs(held))

    def _check_margin(self, api_key: str, notional: Decimal) -> None:
        if self.available(api_key) < notional / LEVERAGE + notional * TAKER_FEE:
            raise Rejected(-2019, "Margin is insufficient.")

    def available(self, api_key: str) -> Decimal:
        account = self.accounts[api_key]
        used = sum(
            (
                abs(_d(p["amount"])) * _d(p["entry"]) / LEVERAGE
                for p in account["positions"].values()
            ),
            Decimal(0),
        )
        return _d(account["wallet"]) - used

    def _fill(self, order: dict, quantity: Decimal, price: Decimal) -> None:
        """Fill `quantity` of `order` at `price`: position, realised PnL, fee, a trade."""
        if quantity > 0:
            api_key, symbol = order["apiKey"], order["symbol"]
            signed = quantity if order["side"] == "BUY" else -quantity
            account = self.accounts[api_key]
            held = self.position_amount(api_key, symbol)
            entry = _d(self.position(api_key, symbol)["entry"])
            realised = Decimal(0)
            if held and (held > 0) != (signed > 0):  # closing (part of) the position
                closed = min(abs(signed), abs(held))
                direction = 1 if held > 0 else -1
                realised = (price - entry) * closed * direction
                remaining = held + signed
                if remaining and (remaining > 0) != (held > 0):
                    entry = price  # flipped through zero: the rest opens at this price
            else:
                remaining = held + signed
                entry = (abs(held) * entry + quantity * price) / abs(remaining)
            fee = (quantity * price * TAKER_FEE).quantize(Decimal("0.00000001"))
            account["wallet"] = str(_d(account["wallet"]) + realised - fee)
            account["positions"][symbol] = {
                "amount": _s(remaining),
                "entry": _s(entry) if remaining else "0",
            }
            self._save_account(api_key)
            executed = _d(order["executedQty"]) + quantity
            cum_quote = _d(order["cumQuote"]) + quantity * price
            order["executedQty"] = _s(executed)
            order["cumQuote"] = _s(cum_quote)
            order["avgPrice"] = _s(cum_quote / executed)
            trade = {
                "id": self._id(),
                "orderId": order["orderId"],
                "symbol": symbol,
                "side": order["side"],
                "price": _s(price),
                "qty": _s(quantity),
                "quoteQty": _s(quantity * price),
                "realizedPnl": _s(realised),
                "commission": _s(fee),
                "commissionAsset": "USDT",
                "positionSide": "BOTH",
                "buyer": order["side"] == "BUY",
                "maker": False,
                "time": _now_ms(),
                "apiKey": api_key,
            }
            self.trades.append(trade)
            self._write("trade", str(trade["id"]), trade)
        full = _d(order["executedQty"]) >= _d(order["origQty"])
        order["status"] = "FILLED" if full else "PARTIALLY_FILLED"
        order["updateTime"] = _now_ms()
        self._save_order(order)

    def _fill_resting(self, symbol: str) -> None:
        """A partially filled market order fills its rest at the next price."""
        for order in self.orders.values():
            if order["symbol"] == symbol and order["status"] == "PARTIALLY_FILLED":
                rest = _d(order["origQty"]) - _d(order["executedQty"])
                if order["reduceOnly"]:
                    held = self.position_amount(order["apiKey"], symbol)
                    rest = min(rest, abs(held))
                    if rest <= 0:
                        order["status"] = "EXPIRED"
                        self._save_order(order)
                        continue
                self._fill(order, rest, self.price(symbol))

    def create_algo_order(self, api_key: str, params: dict):
        """POST /fapi/v1/algoOrder: a reduce-only STOP_MARKET or TAKE_PROFIT_MARKET."""
        with self.lock:
            market = self._market(params["symbol"])
            kind = params.get("type")
            if params.get("algoType") != "CONDITIONAL" or kind not in (
                "STOP_MARKET",
                "TAKE_PROFIT_MARKET",
            ):
                raise Rejected(-1116, "Invalid orderType.")
            quantity = _d(params["quantity"])
            self._check_quantity(market, quantity)
            trigger = _d(params["triggerPrice"])
            if trigger <= 0 or trigger % _d(market.tick_size):
                raise Rejected(-1111, "Precision is over the maximum defined for this asset.")
            client_id = params.get("clientAlgoId") or f"standin-{self.next_id + 1}"
            if self._client_id_taken(api_key, client_id):
                raise Rejected(-4015, "Client order id is not valid.")
            reduce_only = str(params.get("reduceOnly", "false")).lower() == "true"
            side = params["side"]
            price = self.price(market.symbol)
            # Binance refuses a trigger the price has already passed ("would immediately trigger").
            long_stop = side == "SELL" and kind == "STOP_MARKET"
            short_stop = side == "BUY" and kind == "STOP_MARKET"
            if (
                (long_stop and trigger >= price)
                or (short_stop and trigger <= price)
                or (kind == "TAKE_PROFIT_MARKET" and (side == "SELL") == (trigger <= price))
            ):
                raise Rejected(-2021, "Order would immediately trigger.")
            order = {
                "algoId": self._id(),
                "clientAlgoId": client_id,
                "algoType": "CONDITIONAL",
                "orderType": kind,
                "symbol": market.symbol,
                "side": side,
                "positionSide": "BOTH",
                "timeInForce": "GTC",
                "quantity": _s(quantity),
                "algoStatus": "NEW",
                "triggerPrice": _s(trigger),
                "price": "0",
                "workingType": "CONTRACT_PRICE",
                "closePosition": False,
                "priceProtect": False,
                "reduceOnly": reduce_only,
                "actualOrderId": "",
                "actualPrice": "0",
                "createTime": _now_ms(),
                "updateTime": _now_ms(),
                "triggerTime": 0,
                "apiKey": api_key,
            }
            self.algo_orders[str(order["algoId"])] = order
            self._save_algo(order)
            return self.public(order)

    def feed_candle(self, symbol: str, open_, high, low, close) -> None:
        """One candle of the market: trigger what it touches, then trade at its close."""
        open_, high, low, close = (_d(v) for v in (open_, high, low, close))
        with self.lock:
            self.prices[symbol] = str(open_)
            pending = [
                o
                for o in self.algo_orders.values()
                if o["symbol"] == symbol and o["algoStatus"] == "NEW"
            ]
            # Stops before take-profits (the conservative reading of one candle).
            pending.sort(key=lambda o: (o["orderType"] != "STOP_MARKET", o["algoId"]))
            for order in pending:
                fill = self._touched(order, open_, high, low)
                if fill is not None:
                    self._trigger(order, fill)
            self.prices[symbol] = str(close)
            self._write("price", symbol, str(close))
            self._fill_resting(symbol)

    @staticmethod
    def _touched(order: dict, open_: Decimal, high: Decimal, low: Decimal) -> Decimal | None:
        trigger = _d(order["triggerPrice"])
        sell = order["side"] == "SELL"
        if order["orderType"] == "STOP_MARKET":
            if sell and low <= trigger:
                return min(open_, trigger)
            if not sell and high >= trigger:
                return max(open_, trigger)
        else:
            if sell and high >= trigger:
                return max(open_, trigger)
            if not sell and low <= trigger:
                return min(open_, trigger)
        return None

    def _trigger(self, algo: dict, price: Decimal) -> None:
        api_key, symbol = algo["apiKey"], algo["symbol"]
        quantity = _d(algo["quantity"])
        algo["triggerTime"] = algo["updateTime"] = _now_ms()
        if algo["reduceOnly"]:
            held = self.position_amount(api_key, symbol)
            closing = (held > 0 and algo["side"] == "SELL") or (held < 0 and algo["side"] == "BUY")
            if not closing:
                algo["algoStatus"] = "EXPIRED"  # nothing left to reduce
                self._save_algo(algo)
                return
            quantity = min(quantity, abs(held))
        self.prices[symbol] = str(price)
        order = {
            **self.orders_template(),
            "orderId": self._id(),
            "symbol": symbol,
            "clientOrderId": algo["clientAlgoId"],
            "origQty": _s(quantity),
            "reduceOnly": algo["reduceOnly"],
            "side": algo["side"],
            "stopPrice": algo["triggerPrice"],
            "origType": algo["orderType"],
            "time": _now_ms(),
            "updateTime": _now_ms(),
            "apiKey": api_key,
        }
        self.orders[str(order["orderId"])] = order
        self._fill(order, quantity, price)
        algo["algoStatus"] = "FINISHED"
        algo["actualOrderId"] = str(order["orderId"])
        algo["actualPrice"] = order["avgPrice"]
        self._save_algo(algo)

    @staticmethod
    def orders_template() -> dict:
        return {
            "status": "NEW",
            "price": "0",
            "avgPrice": "0",
            "executedQty": "0",
            "cumQuote": "0",
            "timeInForce": "GTC",
            "type": "MARKET",
            "closePosition": False,
            "positionSide": "BOTH",
            "workingType": "CONTRACT_PRICE",
            "priceProtect": False,
        }

    # -- queries --------------------------------------------------------------------------

    def find_order(self, api_key: str, params: dict) -> dict:
        return self.public(self._order_record(api_key, params))

    def _order_record(self, api_key: str, params: dict) -> dict:
        with self.lock:
            client_id = params.get("origClientOrderId")
            for order in self.orders.values():
                if order["apiKey"] != api_key or order["symbol"] != params.get("symbol"):
                    continue
                if (client_id and order["clientOrderId"] == client_id) or str(
                    order["orderId"]
                ) == str(params.get("orderId")):
                    return order
            raise Rejected(-2013, "Order does not exist.")

    def find_algo_order(self, api_key: str, params: dict) -> dict:
        return self.public(self._algo_record(api_key, params))

    def _algo_record(self, api_key: str, params: dict) -> dict:
        with self.lock:
            for order in self.algo_orders.values():
                if order["apiKey"] != api_key:
                    continue
                if order["clientAlgoId"] == params.get("clientAlgoId") or str(
                    order["algoId"]
                ) == str(params.get("algoId")):
                    return order
            raise Rejected(-2013, "Order does not exist.")

    def cancel_order(self, api_key: str, params: dict) -> dict:
        with self.lock:
            order = self._order_record(api_key, params)
            if order["status"] not in ("NEW", "PARTIALLY_FILLED"):
                raise Rejected(-2011, "Unknown order sent.")
            order["status"] = "CANCELED"
            order["updateTime"] = _now_ms()
            self._save_order(order)
            return self.public(order)

    def cancel_algo_order(self, api_key: str, params: dict) -> dict:
        with self.lock:
            order = self._algo_record(api_key, params)
            if order["algoStatus"] != "NEW":
                raise Rejected(-2011, "Unknown order sent.")
            order["algoStatus"] = "CANCELED"
            order["updateTime"] = _now_ms()
            self._save_algo(order)
            return {
                "algoId": order["algoId"],
                "clientAlgoId": order["clientAlgoId"],
                "code": "200",
                "msg": "success",
            }

    def open_orders(self, api_key: str, symbol: str | None) -> list[dict]:
        with self.lock:
            return [
                self.public(o)
                for o in self.orders.values()
                if o["apiKey"] == api_key
                and o["status"] in ("NEW", "PARTIALLY_FILLED")
                and (symbol is None or o["symbol"] == symbol)
            ]

    def open_algo_orders(self, api_key: str, symbol: str | None) -> list[dict]:
        with self.lock:
            return [
                self.public(o)
                for o in self.algo_orders.values()
                if o["apiKey"] == api_key
                and o["algoStatus"] == "NEW"
                and (symbol is None or o["symbol"] == symbol)
            ]

    def user_trades(self, api_key: str, params: dict) -> list[dict]:
        with self.lock:
            return [
                self.public(t)
                for t in self.trades
                if t["apiKey"] == api_key
                and t["symbol"] == params.get("symbol")
                and ("orderId" not in params or str(t["orderId"]) == str(params["orderId"]))
            ]

    def account(self, api_key: str) -> dict:
        with self.lock:
            wallet = _d(self.accounts[api_key]["wallet"])
            available = self.available(api_key)
            asset = {
                "asset": "USDT",
                "walletBalance": _s(wallet),
                "unrealizedProfit": "0",
                "marginBalance": _s(wallet),
                "maintMargin": "0",
                "initialMargin": _s(wallet - available),
                "positionInitialMargin": _s(wallet - available),
                "openOrderInitialMargin": "0",
                "crossWalletBalance": _s(wallet),
                "crossUnPnl": "0",
                "availableBalance": _s(available),
                "maxWithdrawAmount": _s(available),
                "updateTime": _now_ms(),
            }
            return {
                "totalWalletBalance": _s(wallet),
                "availableBalance": _s(available),
                "assets": [asset],
                "positions": [],
            }

    def position_risk(self, api_key: str) -> list[dict]:
        with self.lock:
            rows = []
            for symbol, position in self.accounts[api_key]["positions"].items():
                amount = _d(position["amount"])
                if not amount:
                    continue
                mark = _d(self.prices.get(symbol, position["entry"]))
                rows.append(
                    {
                        "symbol": symbol,
                        "positionSide": "BOTH",
                        "positionAmt": _s(amount),
                        "entryPrice": position["entry"],
                        "breakEvenPrice": position["entry"],
                        "markPrice": _s(mark),
                        "unRealizedProfit": _s((mark - _d(position["entry"])) * amount),
                        "liquidationPrice": "0",
                        "isolatedMargin": "0",
                        "notional": _s(mark * amount),
                        "marginAsset": "USDT",
                        "isolatedWallet": "0",
                        "initialMargin": _s(abs(mark * amount) / LEVERAGE),
                        "maintMargin": "0",
                        "positionInitialMargin": _s(abs(mark * amount) / LEVERAGE),
                        "openOrderInitialMargin": "0",
                        "adl": 0,
                        "bidNotional": "0",
                        "askNotional": "0",
                        "updateTime": _now_ms(),
                    }
                )
            return rows

    @staticmethod
    def public(record: dict) -> dict:
        """A record as the API answers it: without the owner's key."""
        return {k: v for k, v in record.items() if k != "apiKey"}
