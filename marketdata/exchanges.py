"""Building ccxt exchange clients, shared by the market data provider and the brokers.

ccxt is imported inside the functions: it is heavy, and the web process and most tests
never need it.

Settings: `CCXT_TIMEOUT_MS`; `CCXT_OPTIONS`, extra ccxt configuration deep-merged into
every client (e.g. `{"options": {"fetchMarkets": {"types": ["spot"]}}}` for binance);
`CCXT_API_URL`, when set, sends every API request to that origin instead of the
exchange's, keeping the path (a local stand-in exchange, a recording proxy).
"""

import enum
import json
import logging
import re
import threading
import time
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings

PAPER = "paper"
# Our resolutions in minutes as ccxt timeframes.
TIMEFRAMES = {1: "1m", 5: "5m", 15: "15m", 30: "30m", 60: "1h", 240: "4h", 1440: "1d"}


# ccxt logs every request at DEBUG with its headers (the API key) and its signed body. Its
# clients log here instead, and this logger never passes DEBUG on, whatever LOG_LEVEL says.
logger = logging.getLogger(__name__)
_ccxt_logger = logging.getLogger("marketdata.exchanges.ccxt")
_ccxt_logger.setLevel(logging.INFO)


class ExchangeConfigError(ValueError):
    """The exchange or market named is not one ccxt (or the exchange) knows."""


def _rebase(urls, origin: str):
    if isinstance(urls, dict):
        return {key: _rebase(value, origin) for key, value in urls.items()}
    if isinstance(urls, str) and urls.startswith(("http://", "https://")):
        target = urlsplit(origin)
        parts = urlsplit(urls)
        return urlunsplit((target.scheme, target.netloc, parts.path, parts.query, ""))
    return urls


def exchange_ids() -> list[str]:
    import ccxt

    return list(ccxt.exchanges)


def ccxt_exchange(exchange_id: str, *, api_key: str = "", secret: str = ""):
    """A synchronous ccxt client for `exchange_id`, with credentials when given."""
    import ccxt

    if exchange_id not in ccxt.exchanges:
        raise ExchangeConfigError(f"Unknown exchange {exchange_id!r}")
    config = {
        **settings.CCXT_OPTIONS,
        # Our callers make one or a few requests per candle; ccxt's throttle would only
        # add sleeps in the worker.
        "enableRateLimit": False,
        "timeout": settings.CCXT_TIMEOUT_MS,
    }
    if api_key or secret:
        config.update(apiKey=api_key, secret=secret)
    exchange = getattr(ccxt, exchange_id)(config)
    exchange.logger = _ccxt_logger
    if settings.CCXT_API_URL:
        exchange.urls["api"] = _rebase(exchange.urls["api"], settings.CCXT_API_URL)
    return exchange


# Public clients are kept per process so the exchange's market list (megabytes on binance)
# is fetched once an hour, not once per candle or per order.
MARKETS_TTL_SECONDS = 3600
_public_clients: dict[tuple, tuple[float, object]] = {}
_public_lock = threading.Lock()


def client_settings(exchange_id: str) -> tuple:
    """What a client of `exchange_id` is built from: a kept client is only reused while
    these settings stay the same."""
    return (
        exchange_id,
        settings.CCXT_API_URL,
        settings.CCXT_TIMEOUT_MS,
        json.dumps(settings.CCXT_OPTIONS, sort_keys=True),
    )


def public_exchange(exchange_id: str):
    """A shared credential-less client for `exchange_id`, renewed every MARKETS_TTL_SECONDS
    (which reloads its markets)."""
    key = client_settings(exchange_id)
    with _public_lock:
        cached = _public_clients.get(key)
        if cached is not None and time.monotonic() - cached[0] < MARKETS_TTL_SECONDS:
            return cached[1]
        exchange = ccxt_exchange(exchange_id)
        _public_clients[key] = (time.monotonic(), exchange)
        return exchange


def market_symbol(exchange, symbol: str) -> str:
    """The exchange's unified symbol for ours, in the client's default market type:
    BTCUSDT → BTC/USDT on spot, BTC/USDT:USDT on a USD-M swap client. Loads the markets
    (once per client)."""
    if "/" in symbol:
        return symbol
    markets = exchange.load_markets()
    kind = exchange.options.get("defaultType") or "spot"
    candidates = [m for m in exchange.markets_by_id.get(symbol, []) if m.get("type") == kind]
    if not candidates:
        compact = symbol.upper()
        candidates = [
            m
            for m in markets.values()
            if m.get("type") == kind and f"{m['base']}{m['quote']}" == compact
        ]
    if not candidates:
        raise ExchangeConfigError(f"{exchange.id} has no {kind} market for {symbol}")
    return candidates[0]["symbol"]


class CredentialCheck(enum.Enum):
    VALID = "valid"
    INVALID = "invalid"  # the exchange refused the key pair
    UNAVAILABLE = "unavailable"  # no answer to judge by (network, exchange down)


@dataclass(frozen=True)
class AccountBalance:
    """An account's balance in one currency as the exchange reported it (None: the
    exchange did not report that figure)."""

    currency: str
    free: Decimal | None
    total: Decimal | None


def decimal_or_none(value) -> Decimal | None:
    """An exchange's number (str, int or float) as a Decimal; None when absent or not finite."""
    if value is None:
        return None
    number = Decimal(str(value))
    return number if number.is_finite() else None


# A balance is rounded once, here: down to 8 places (ccxt hands floats over, whose last
# digits are noise, and a figure shown or checked never exceeds what the account holds).
# One beyond what a balance column holds (18 integer digits) counts as not reported.
BALANCE_STEP = Decimal("1e-8")
_BALANCE_LIMIT = Decimal("1e18")


def _balance_amount(value) -> Decimal | None:
    number = decimal_or_none(value)
    if number is None or abs(number) >= _BALANCE_LIMIT:
        return None
    return number.quantize(BALANCE_STEP, rounding=ROUND_DOWN)


def account_balance(answer: dict, currency: str) -> AccountBalance:
    """`currency`'s free and total amounts out of a ccxt `fetch_balance` answer."""
    row = answer.get(currency) or {}
    return AccountBalance(
        currency=currency,
        free=_balance_amount(row.get("free")),
        total=_balance_amount(row.get("total")),
    )


def credential_check(
    *, exchange_id: str, api_key: str, secret: str, currency: str
) -> tuple[CredentialCheck, AccountBalance | None]:
    """One signed read-only call (the balance) with a key pair: does the exchange accept
    it? Answers with the account's `currency` balance when it does; nothing else of the
    answer is kept, and nothing of it is logged but its error class."""
    import ccxt

    try:
        exchange = ccxt_exchange(exchange_id, api_key=api_key, secret=secret)
        exchange.set_markets(public_exchange(exchange_id).load_markets())
        answer = exchange.fetch_balance()
    except (ccxt.AuthenticationError, ccxt.PermissionDenied, ccxt.AccountSuspended):
        return CredentialCheck.INVALID, None
    except (ccxt.BaseError, ExchangeConfigError) as exc:
        logger.warning("credential check on %s got no answer: %s", exchange_id, type(exc).__name__)
        return CredentialCheck.UNAVAILABLE, None
    return CredentialCheck.VALID, account_balance(answer, currency)


_SIGNATURE = re.compile(r"(signature=)[0-9a-fA-F]+")


def scrub(message: str, *secrets: str, limit: int = 300) -> str:
    """An exchange error message fit for a log or an exception: the credentials and any
    request signature blanked out, and bounded in length."""
    for secret in secrets:
        if secret:
            message = message.replace(secret, "***")
    return _SIGNATURE.sub(r"\1***", message)[:limit]
