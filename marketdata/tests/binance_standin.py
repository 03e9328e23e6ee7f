"""A stand-in for Binance's spot REST API on 127.0.0.1, for the ccxt market data provider
and the ccxt broker: exchangeInfo, klines, and signed market orders. Tests point ccxt at
it with the `CCXT_API_URL` setting; nothing here touches the internet."""

import hashlib
import hmac
import json
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

# ccxt settings for binance that keep `load_markets` to the one spot endpoint served here.
CCXT_OPTIONS = {
    "options": {
        "fetchMarkets": {"types": ["spot"]},
        "fetchMargins": False,
        "fetchCurrencies": False,
    }
}

SPOT_MARKET = {
    "symbol": "BTCUSDT",
    "status": "TRADING",
    "baseAsset": "BTC",
    "baseAssetPrecision": 8,
    "quoteAsset": "USDT",
    "quotePrecision": 8,
    "quoteAssetPrecision": 8,
    "orderTypes": ["LIMIT", "MARKET"],
    "isSpotTradingAllowed": True,
    "isMarginTradingAllowed": False,
    "permissions": ["SPOT"],
    "filters": [
        {"filterType": "PRICE_FILTER", "minPrice": "0.01", "maxPrice": "1e6", "tickSize": "0.01"},
        {"filterType": "LOT_SIZE", "minQty": "0.00001", "maxQty": "9000", "stepSize": "0.00001"},
    ],
}


class BinanceStandIn:
    """Run with `with BinanceStandIn(...) as exchange:`; `exchange.url` is its origin.

    `klines`: {(symbol, interval): [[open_ms, "o", "h", "l", "c", "v"], ...]} served by
    startTime/endTime/limit as Binance does. `accounts`: {api_key: secret} accepted on
    signed requests. `fill_price`: the average price of a market order's fill.
    """

    def __init__(self, *, klines=None, accounts=None, fill_price="42000.50", order_status="FILLED"):
        self.klines = klines or {}
        self.accounts = accounts or {}
        self.fill_price = Decimal(fill_price)
        self.order_status = order_status
        self.requests: list[dict] = []
        self.orders: list[dict] = []

    def __enter__(self):
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, status, body):
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _handle(self, method):
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                query = parts.query if method == "GET" else (body or parts.query)
                record = {
                    "method": method,
                    "path": parts.path,
                    "query": query,
                    "headers": dict(self.headers),
                }
                standin.requests.append(record)
                status, answer = standin.route(method, parts.path, query, self.headers)
                self._answer(status, answer)

            def do_GET(self):
                self._handle("GET")

            def do_POST(self):
                self._handle("POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    def route(self, method, path, query, headers):
        params = dict(parse_qsl(query, keep_blank_values=True))
        if method == "GET" and path == "/api/v3/exchangeInfo":
            return 200, {"timezone": "UTC", "serverTime": 0, "symbols": [SPOT_MARKET]}
        if method == "GET" and path == "/api/v3/klines":
            return 200, self._klines(params)
        if method == "POST" and path == "/api/v3/order":
            return self._order(query, params, headers)
        return 404, {"code": -1, "msg": f"no route {method} {path}"}

    def _klines(self, params):
        rows = self.klines.get((params["symbol"], params["interval"]), [])
        start = int(params.get("startTime", 0))
        end = int(params.get("endTime", 2**63))
        limit = int(params.get("limit", 500))
        selected = [row for row in rows if start <= row[0] <= end][:limit]
        # Binance's row: open time, o, h, l, c, v, close time, quote volume, trades, ...
        return [[*row, row[0] + 59_999, "0", 1, "0", "0", "0"] for row in selected]

    def _order(self, query, params, headers):
        key = headers.get("X-MBX-APIKEY", "")
        secret = self.accounts.get(key)
        if secret is None:
            return 401, {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}
        unsigned, _, signature = query.rpartition("&signature=")
        expected = hmac.new(secret.encode(), unsigned.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(signature, expected):
            return 400, {"code": -1022, "msg": "Signature for this request is not valid."}
        quantity = Decimal(params["quantity"])
        order = {
            "symbol": params["symbol"],
            "orderId": 1000 + len(self.orders),
            "orderListId": -1,
            "clientOrderId": params.get("newClientOrderId", "standin"),
            "transactTime": 1767225600000,
            "price": "0.00000000",
            "origQty": str(quantity),
            "executedQty": str(quantity) if self.order_status == "FILLED" else "0",
            "cummulativeQuoteQty": str(quantity * self.fill_price)
            if self.order_status == "FILLED"
            else "0",
            "status": self.order_status,
            "timeInForce": "GTC",
            "type": params["type"],
            "side": params["side"],
            "fills": [],
        }
        self.orders.append(order)
        return 200, order
