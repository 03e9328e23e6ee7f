"""Public OHLCV from an exchange through ccxt (no keys)."""

from datetime import UTC, datetime
from decimal import Decimal

from django.utils import timezone

from marketdata.candles import Bar, resolution_delta
from marketdata.exchanges import TIMEFRAMES, ExchangeConfigError, market_symbol, public_exchange
from marketdata.exchanges import scrub as _scrub

from .base import Clock, MarketDataError, closed_bars_in_range, require_utc

# Bars asked for per request; binance and most exchanges answer up to 1000.
PAGE_LIMIT = 1000
MAX_PAGES = 50


def _decimal(value) -> Decimal:
    # ccxt parses numbers to float; str() gives the shortest repr, which is the exchange's
    # decimal as long as it has fewer than 16 significant digits.
    return Decimal(str(value)) if value is not None else Decimal(0)


class CcxtProvider:
    name = "ccxt"

    def __init__(self, *, exchange_id: str, clock: Clock = timezone.now):
        self.exchange_id = exchange_id
        self.clock = clock
        self._exchange = None

    @property
    def exchange(self):
        if self._exchange is None:
            try:
                self._exchange = public_exchange(self.exchange_id)
            except ExchangeConfigError as exc:
                raise MarketDataError(str(exc)) from None
        return self._exchange

    def fetch_candles(
        self, *, symbol: str, resolution: int, start: datetime, end: datetime
    ) -> list[Bar]:
        import ccxt

        start, end = require_utc(start, "start"), require_utc(end, "end")
        now = require_utc(self.clock(), "now")
        timeframe = TIMEFRAMES.get(int(resolution))
        if timeframe is None:
            raise MarketDataError(f"No ccxt timeframe for a {resolution}-minute candle")
        period_ms = int(resolution_delta(resolution).total_seconds() * 1000)
        since = int(start.timestamp() * 1000)
        until = int(min(end, now).timestamp() * 1000)
        rows: list = []
        try:
            market = market_symbol(self.exchange, symbol)
            for _ in range(MAX_PAGES):
                wanted = -(-(until - since) // period_ms)
                if wanted <= 0:
                    break
                page = self.exchange.fetch_ohlcv(
                    market, timeframe, since=since, limit=min(PAGE_LIMIT, wanted)
                )
                rows.extend(page)
                if not page or page[-1][0] < since:
                    break
                since = page[-1][0] + period_ms
        except ExchangeConfigError as exc:
            raise MarketDataError(str(exc)) from None
        except ccxt.BaseError as exc:
            raise MarketDataError(
                f"{self.exchange_id} OHLCV failed: {type(exc).__name__}: {_scrub(str(exc))}"
            ) from None
        bars = [
            Bar(
                open_time=datetime.fromtimestamp(row[0] / 1000, tz=UTC),
                open=_decimal(row[1]),
                high=_decimal(row[2]),
                low=_decimal(row[3]),
                close=_decimal(row[4]),
                volume=_decimal(row[5]),
            )
            for row in rows
            if row and None not in row[:5]
        ]
        return closed_bars_in_range(bars, resolution=resolution, start=start, end=end, now=now)
