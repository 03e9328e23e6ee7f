"""The stand-in's HTTP side: Binance's routes as ccxt's `binanceusdm` (USD-M futures)
and `binance` (spot market data) call them, HMAC-SHA256 signatures checked, a
request-rate limit, latency and injected faults.

Routes: spot ``GET /api/v3/exchangeInfo`` and ``/api/v3/klines`` (market data);
``GET /fapi/v1/exchangeInfo``, ``/fapi/v1/time``, ``/fapi/v1/ticker/price``,
``/fapi/v1/ticker/24hr``; signed ``GET /fapi/v3/account``, ``/fapi/v2/balance``,
``/fapi/v3/positionRisk``, ``/fapi/v1/userTrades``, ``/fapi/v1/openOrders``,
``/fapi/v1/openAlgoOrders``, ``GET|POST|DELETE /fapi/v1/order`` and ``/fapi/v1/algoOrder``.
Control routes for a stand-in in another process (the benchmark) under ``/_standin/``.

Faults (`Fault`), each for the next `times` matching requests:
- ``latency``: `seconds` more before the answer;
- ``timeout``: the request is carried out, the answer waits `seconds` (longer than the
  client's timeout: the client sees a timeout for an order that exists);
- ``reset``: carried out, then the connection is closed without an answer;
- ``429``: refused with Binance's "too many requests" before anything happens;
- ``5xx``: a 503 before anything happens; ``5xx_after``: carried out, then a 500;
- ``reject``: refused with `code`/`message` (400) before anything happens;
- ``not_found``: an order lookup answers -2013 "Order does not exist" (even if it does);
- ``partial``: an order fills `fraction` now, the rest at the next price.

A fault with an `api_key` matches that account's signed requests only (one subscriber's
account that hangs), else every request.
"""

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from .book import LEVERAGE, Book, Rejected

# ccxt settings that keep `load_markets` to the exchangeInfo endpoint served here.
CCXT_OPTIONS = {
    "options": {
        "fetchMarkets": {"types": ["spot", "linear"]},
        "fetchMargins": False,
        "fetchCurrencies": False,
    }
}


@dataclass
class Fault:
    kind: str
    path: str | None = None  # None: any path
    method: str | None = None  # None: any method
    times: int = 1
    seconds: float = 0.0
    code: int = -1013
    message: str = "Filter failure"
    fraction: str = "0.5"
    api_key: str | None = None  # None: any account's requests, and the public ones

    def matches(self, method: str, path: str, api_key: str) -> bool:
        return (
            (self.path is None or self.path == path)
            and (self.method is None or self.method == method)
            and (self.api_key is None or self.api_key == api_key)
        )


class _Closed(Exception):
    """Drop the connection without an answer."""


def _spot_symbol(market) -> dict:
    return {
        "symbol": market.symbol,
        "status": "TRADING",
        "baseAsset": market.base,
        "baseAssetPrecision": 8,
        "quoteAsset": market.quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "orderTypes": ["LIMIT", "MARKET"],
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "permissions": ["SPOT"],
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": "0.01",
                "maxPrice": "1e6",
                "tickSize": "0.01",
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": "0.00001",
                "maxQty": "9000",
                "stepSize": "0.00001",
            },
        ],
    }


def _futures_symbol(market) -> dict:
    return {
        "symbol": market.symbol,
        "pair": market.symbol,
        "contractType": "PERPETUAL",
        "deliveryDate": 4133404800000,
        "onboardDate": 1569398400000,
        "status": "TRADING",
        "baseAsset": market.base,
        "quoteAsset": market.quote,
        "marginAsset": market.quote,
        "pricePrecision": 2,
        "quantityPrecision": 3,
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "triggerProtect": "0.0500",
        "orderTypes": [
            "LIMIT",
            "MARKET",
            "STOP",
            "STOP_MARKET",
            "TAKE_PROFIT",
            "TAKE_PROFIT_MARKET",
            "TRAILING_STOP_MARKET",
        ],
        "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": market.tick_size,
                "maxPrice": "4529764",
                "tickSize": market.tick_size,
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": market.min_qty,
                "maxQty": "1000",
                "stepSize": market.step_size,
            },
            {
                "filterType": "MARKET_LOT_SIZE",
                "minQty": market.min_qty,
                "maxQty": "120",
                "stepSize": market.step_size,
            },
            {"filterType": "MIN_NOTIONAL", "notional": market.min_notional},
        ],
    }


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Python's default backlog is 5: a burst of new connections (an orders worker's
    # threads at a candle close) would see dropped SYNs and a retransmission a second
    # later, which an exchange's front does not do.
    request_queue_size = 256


class StandInExchange:
    """A Binance stand-in on 127.0.0.1: ``with StandInExchange(...) as exchange:``, its
    origin is `exchange.url` (give it to ccxt through the CCXT_API_URL setting).

    `accounts`: {api key: secret} opened with `balance` USDT each. `klines`:
    {(symbol, interval): [[open ms, "o", "h", "l", "c", "v"], …]} for market data.
    `state_file`: the journal; a stand-in started on an existing one carries on where the
    last one stopped. `latency`: seconds added to every answer. `rate_limit`: requests
    per second over all keys (as Binance limits by IP), beyond which it answers 429.
    """

    def __init__(
        self,
        *,
        accounts=None,
        balance="10000",
        klines=None,
        state_file: Path | None = None,
        latency: float = 0.0,
        rate_limit: float | None = None,
        prices=None,
        port: int = 0,
    ):
        self.klines = klines or {}
        self.state_file = Path(state_file) if state_file else None
        self.book = Book.load(self.state_file) if self.state_file else Book()
        for api_key, secret in (accounts or {}).items():
            if api_key not in self.book.accounts:
                self.book.add_account(api_key, secret, balance=balance)
        for symbol, price in (prices or {"BTCUSDT": "42000", "ETHUSDT": "3000"}).items():
            if symbol not in self.book.prices:
                self.book.set_price(symbol, price)
        self.latency = latency
        self.rate_limit = rate_limit
        self.port = port
        self.faults: list[Fault] = []
        self.requests: list[dict] = []
        self._fault_lock = threading.Lock()
        self._rate_window: list[float] = []
        self.server = None

    # -- lifecycle ------------------------------------------------------------------------

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self) -> None:
        handler = _handler_for(self)
        self.server = _Server(("127.0.0.1", self.port), handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.thread.join()
            self.server = None

    def restart(self) -> None:
        """Stop, forget everything held in memory, start again on the same port from the
        journal: what it answers afterwards comes from the file alone."""
        self.stop()
        if self.state_file is not None:
            self.book = Book.load(self.state_file)
        self.start()

    # -- control --------------------------------------------------------------------------

    def inject(self, fault: Fault) -> None:
        with self._fault_lock:
            self.faults.append(fault)

    def _take_fault(
        self, method: str, path: str, kinds: tuple[str, ...], api_key: str
    ) -> Fault | None:
        with self._fault_lock:
            for fault in self.faults:
                if fault.kind in kinds and fault.matches(method, path, api_key) and fault.times > 0:
                    fault.times -= 1
                    if fault.times == 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def _over_rate_limit(self) -> bool:
        if not self.rate_limit:
            return False
        now = time.monotonic()
        with self._fault_lock:
            window = self._rate_window = [t for t in self._rate_window if now - t < 1.0]
            if len(window) >= self.rate_limit:
                return True
            window.append(now)
        return False

    # -- requests -------------------------------------------------------------------------

    def handle(self, method: str, path: str, query: str, headers) -> tuple[int, object, float]:
        """(status, body, seconds to wait before answering); raises _Closed."""
        self.requests.append(
            {"method": method, "path": path, "query": query, "headers": dict(headers)}
        )
        if path.startswith("/_standin/"):
            return (*self._control(method, path, query), 0.0)
        delay = self.latency
        key = headers.get("X-MBX-APIKEY", "")
        latency = self._take_fault(method, path, ("latency",), key)
        if latency:
            delay += latency.seconds
        if self._over_rate_limit() or self._take_fault(method, path, ("429",), key):
            return 429, {"code": -1003, "msg": "Too many requests; current limit exceeded."}, delay
        before = self._take_fault(method, path, ("5xx", "reject"), key)
        if before and before.kind == "5xx":
            return (
                503,
                {"code": -1001, "msg": "Internal error; unable to process your request."},
                delay,
            )
        if before:
            return 400, {"code": before.code, "msg": before.message}, delay
        after = self._take_fault(method, path, ("timeout", "reset", "5xx_after"), key)
        try:
            status, body = self.route(method, path, query, headers)
        except Rejected as exc:
            status, body = exc.status, {"code": exc.code, "msg": exc.message}
        if after and after.kind == "reset":
            raise _Closed
        if after and after.kind == "timeout":
            delay += after.seconds
        if after and after.kind == "5xx_after":
            return 500, {"code": -1000, "msg": "An unknown error occurred."}, delay
        return status, body, delay

    def _signed(self, query: str, headers) -> str:
        api_key = headers.get("X-MBX-APIKEY", "")
        secret = self.book.secret_of(api_key)
        if secret is None:
            raise Rejected(-2015, "Invalid API-key, IP, or permissions for action.", status=401)
        unsigned, _, signature = query.rpartition("&signature=")
        expected = hmac.new(secret.encode(), unsigned.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(signature, expected):
            raise Rejected(-1022, "Signature for this request is not valid.")
        return api_key

    def route(self, method: str, path: str, query: str, headers) -> tuple[int, object]:
        params = dict(parse_qsl(query, keep_blank_values=True))
        book = self.book
        public = {
            ("GET", "/api/v3/exchangeInfo"): lambda: {
                "timezone": "UTC",
                "serverTime": int(time.time() * 1000),
                "symbols": [_spot_symbol(m) for m in book.markets.values()],
            },
            ("GET", "/api/v3/klines"): lambda: self._klines(params),
            ("GET", "/fapi/v1/exchangeInfo"): lambda: {
                "timezone": "UTC",
                "serverTime": int(time.time() * 1000),
                "rateLimits": [],
                "assets": [{"asset": "USDT", "marginAvailable": True}],
                "symbols": [_futures_symbol(m) for m in book.markets.values()],
            },
            ("GET", "/fapi/v1/time"): lambda: {"serverTime": int(time.time() * 1000)},
            ("GET", "/fapi/v1/ticker/price"): lambda: self._ticker(params),
            ("GET", "/fapi/v1/ticker/24hr"): lambda: self._ticker(params),
        }
        if (method, path) in public:
            return 200, public[(method, path)]()
        private = {
            ("GET", "/fapi/v3/account"): lambda key: book.account(key),
            ("GET", "/fapi/v2/balance"): lambda key: book.account(key)["assets"],
            ("GET", "/fapi/v3/positionRisk"): lambda key: book.position_risk(key),
            ("GET", "/fapi/v2/positionRisk"): lambda key: book.position_risk(key),
            ("GET", "/fapi/v1/userTrades"): lambda key: book.user_trades(key, params),
            ("GET", "/fapi/v1/openOrders"): lambda key: book.open_orders(key, params.get("symbol")),
            ("GET", "/fapi/v1/openAlgoOrders"): lambda key: book.open_algo_orders(
                key, params.get("symbol")
            ),
            ("GET", "/fapi/v1/order"): lambda key: self._lookup(
                method, path, book.find_order, key, params
            ),
            ("GET", "/fapi/v1/algoOrder"): lambda key: self._lookup(
                method, path, book.find_algo_order, key, params
            ),
            ("POST", "/fapi/v1/order"): lambda key: book.create_order(
                key, params, fill_fraction=self._partial(method, path, key)
            ),
            ("POST", "/fapi/v1/algoOrder"): lambda key: book.create_algo_order(key, params),
            ("DELETE", "/fapi/v1/order"): lambda key: book.cancel_order(key, params),
            ("DELETE", "/fapi/v1/algoOrder"): lambda key: book.cancel_algo_order(key, params),
            ("GET", "/fapi/v1/leverageBracket"): lambda key: [
                {
                    "symbol": symbol,
                    "brackets": [
                        {
                            "bracket": 1,
                            "initialLeverage": 125,
                            "notionalCap": 1_000_000_000,
                            "notionalFloor": 0,
                            "maintMarginRatio": 0.004,
                            "cum": 0,
                        }
                    ],
                }
                for symbol in book.markets
            ],
            ("POST", "/fapi/v1/leverage"): lambda key: {
                "symbol": params.get("symbol"),
                "leverage": LEVERAGE,
                "maxNotionalValue": "1000000",
            },
        }
        handler = private.get((method, path))
        if handler is None:
            return 404, {"code": -1, "msg": f"no route {method} {path}"}
        return 200, handler(self._signed(query, headers))

    def _partial(self, method: str, path: str, api_key: str) -> Decimal | None:
        fault = self._take_fault(method, path, ("partial",), api_key)
        return Decimal(fault.fraction) if fault else None

    def _lookup(self, method, path, find, key, params):
        if self._take_fault(method, path, ("not_found",), key):
            raise Rejected(-2013, "Order does not exist.")
        return find(key, params)

    def _ticker(self, params):
        symbol = params.get("symbol")
        symbols = [symbol] if symbol else list(self.book.prices)
        rows = [
            {
                "symbol": s,
                "price": str(self.book.price(s)),
                "lastPrice": str(self.book.price(s)),
                "time": int(time.time() * 1000),
                "closeTime": int(time.time() * 1000),
            }
            for s in symbols
        ]
        return rows[0] if symbol else rows

    def _klines(self, params):
        rows = self.klines.get((params["symbol"], params["interval"]), [])
        start = int(params.get("startTime", 0))
        end = int(params.get("endTime", 2**63))
        limit = int(params.get("limit", 500))
        selected = [row for row in rows if start <= row[0] <= end][:limit]
        # Binance's row: open time, o, h, l, c, v, close time, quote volume, trades, ...
        return [[*row, row[0] + 59_999, "0", 1, "0", "0", "0"] for row in selected]

    def _control(self, method: str, path: str, query: str) -> tuple[int, object]:
        body = json.loads(query) if query else {}
        if path == "/_standin/candle":
            self.book.feed_candle(
                body["symbol"], body["open"], body["high"], body["low"], body["close"]
            )
        elif path == "/_standin/price":
            self.book.set_price(body["symbol"], body["price"])
        elif path == "/_standin/fault":
            self.inject(Fault(**body))
        elif path == "/_standin/account":
            self.book.add_account(
                body["apiKey"], body["secret"], balance=body.get("balance", "10000")
            )
        elif path == "/_standin/state":
            return 200, self.snapshot()
        else:
            return 404, {"msg": "no such control"}
        return 200, {"ok": True}

    def snapshot(self) -> dict:
        """Everything the stand-in holds, for a benchmark or a test to compare with."""
        with self.book.lock:
            return {
                "accounts": {
                    key: {k: v for k, v in account.items() if k != "secret"}
                    for key, account in self.book.accounts.items()
                },
                "orders": list(self.book.orders.values()),
                "algoOrders": list(self.book.algo_orders.values()),
                "trades": list(self.book.trades),
            }


def _handler_for(standin: StandInExchange):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes: without TCP_NODELAY the body waits for
        # the client's delayed ACK (40 ms) on every answer.
        disable_nagle_algorithm = True

        def log_message(self, *args):
            pass

        def _handle(self, method):
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            query = (
                parts.query if method in ("GET", "DELETE") and not body else (body or parts.query)
            )
            if method == "POST" and body and parts.query:
                query = f"{parts.query}&{body}"
            try:
                status, answer, delay = standin.handle(method, parts.path, query, self.headers)
            except _Closed:
                self.close_connection = True
                self.connection.close()
                return
            if delay:
                time.sleep(delay)
            payload = json.dumps(answer).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up waiting (a timeout fault)

        def do_GET(self):
            self._handle("GET")

        def do_POST(self):
            self._handle("POST")

        def do_DELETE(self):
            self._handle("DELETE")

    return Handler
