"""A stand-in for Binance (USD-M futures, plus spot market data) on loopback, for the
tests and the benchmarks: a matching engine fed by candle prices, fault injection, and a
journal so a restart forgets nothing. ccxt reaches it through the CCXT_API_URL setting.

``python -m marketdata.exchange_standin --port 0 --state FILE`` runs one on its own (the
benchmark drives it through its ``/_standin/`` control routes).
"""

from .book import MARKETS, TAKER_FEE, Book, Market, Rejected
from .server import CCXT_OPTIONS, Fault, StandInExchange

__all__ = [
    "CCXT_OPTIONS",
    "MARKETS",
    "TAKER_FEE",
    "Book",
    "Fault",
    "Market",
    "Rejected",
    "StandInExchange",
]
