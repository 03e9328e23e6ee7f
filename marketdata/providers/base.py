"""What every market data provider speaks: the provider protocol, the errors (a provider
delivers `marketdata.candles.Bar`s)."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from marketdata.candles import Bar, candle_close_of

Clock = Callable[[], datetime]


class MarketDataError(Exception):
    """The provider could not answer (network, exchange error, bad configuration). Distinct
    from "the provider has no such candle", which is an empty answer."""


class MarketDataProvider(Protocol):
    name: str

    def fetch_candles(
        self, *, symbol: str, resolution: int, start: datetime, end: datetime
    ) -> list[Bar]:
        """The closed bars whose open_time lies in [start, end), oldest first."""
        ...


def closed_bars_in_range(
    bars: list[Bar], *, resolution: int, start: datetime, end: datetime, now: datetime
) -> list[Bar]:
    """Keep the bars that open in [start, end) and have closed by `now` (an exchange may
    send the bar that is still forming), oldest first, one per open_time."""
    kept: dict[datetime, Bar] = {}
    for bar in bars:
        if start <= bar.open_time < end and candle_close_of(bar.open_time, resolution) <= now:
            kept[bar.open_time] = bar
    return [kept[key] for key in sorted(kept)]


def require_utc(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return moment.astimezone(UTC)
