"""Market data: where candles come from.

`get_provider()` answers the provider named by the `MARKET_DATA_PROVIDER` setting:

- ``synthetic`` (default): a deterministic, stateless price path per symbol, for
  development and tests; any past candle can be produced on its own.
- ``ccxt``: public OHLCV of `MARKET_DATA_EXCHANGE` (default binance) through ccxt.
- ``csv``: files `<MARKET_DATA_CSV_DIR>/<SYMBOL>-<RESOLUTION>.csv`
  (`time,open,high,low,close,volume`).

Providers never return a candle that has not closed yet; they deliver
`marketdata.candles.Bar`s. Storing goes through `marketdata.services`; reading through
`marketdata.selectors`.
"""

from django.conf import settings

from .base import MarketDataError, MarketDataProvider

__all__ = ["PROVIDERS", "MarketDataError", "MarketDataProvider", "get_provider"]

PROVIDERS = ("synthetic", "ccxt", "csv")


def get_provider(name: str | None = None) -> MarketDataProvider:
    """The configured provider (or the one named). Modules load on demand: ccxt is heavy."""
    name = (name or settings.MARKET_DATA_PROVIDER).strip().lower()
    if name == "synthetic":
        from .synthetic import SyntheticProvider

        return SyntheticProvider()
    if name == "ccxt":
        from .exchange import CcxtProvider

        return CcxtProvider(exchange_id=settings.MARKET_DATA_EXCHANGE)
    if name == "csv":
        from .csv_file import CsvProvider

        return CsvProvider(directory=settings.MARKET_DATA_CSV_DIR)
    raise MarketDataError(
        f"Unknown market data provider {name!r}; expected one of {', '.join(PROVIDERS)}"
    )
