"""The resolutions and the candle time arithmetic, pure (no Django, no I/O): the market
data, the strategies' candle, the engine and the backtests share them.

Candles are aligned on the Unix epoch: a candle of `resolution` minutes opens at a whole
multiple of `resolution` minutes since 1970-01-01T00:00Z. So 1440 opens at midnight UTC,
240 at 00:00, 04:00, 08:00 … UTC, 60 on the hour.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

# The supported candle lengths, in minutes.
RESOLUTIONS = (1, 5, 15, 30, 60, 240, 1440)
RESOLUTION_CHOICES = [(minutes, f"{minutes}m") for minutes in RESOLUTIONS]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Bar:
    """One closed OHLCV candle as plain values (`open_time` aware UTC): what providers
    deliver, what the selectors answer, what the trading rules and the sandbox read."""

    open_time: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


def resolution_delta(resolution: int) -> timedelta:
    """The length of one candle."""
    if int(resolution) <= 0:
        raise ValueError(f"resolution must be a positive number of minutes, not {resolution!r}")
    return timedelta(minutes=int(resolution))


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a candle time must be timezone-aware")


def candle_close_floor(now: datetime, resolution: int) -> datetime:
    """The close time of the last candle that has closed at `now`, in UTC.

    The floor, never the ceiling: a scheduler tick that fires a few milliseconds after a
    boundary still names the candle that has just closed, not the one that is forming.
    """
    _require_aware(now)
    period = resolution_delta(resolution)
    return _EPOCH + ((now - _EPOCH) // period) * period


def is_candle_aligned(moment: datetime, resolution: int) -> bool:
    """True when `moment` lies on a boundary of the resolution (a valid open or close time)."""
    _require_aware(moment)
    return (moment - _EPOCH) % resolution_delta(resolution) == timedelta(0)


def candle_open_of(candle_close: datetime, resolution: int) -> datetime:
    """The open time of the candle closing at `candle_close` (which must be aligned)."""
    if not is_candle_aligned(candle_close, resolution):
        raise ValueError(f"{candle_close.isoformat()} is not a {resolution}-minute candle boundary")
    return (candle_close - resolution_delta(resolution)).astimezone(UTC)


def candle_close_of(open_time: datetime, resolution: int) -> datetime:
    """The close time of the candle opening at `open_time`."""
    _require_aware(open_time)
    return (open_time + resolution_delta(resolution)).astimezone(UTC)


def candle_closes_between(start: datetime, end: datetime, resolution: int) -> list[datetime]:
    """Every candle close in [start, end], oldest first."""
    _require_aware(start)
    period = resolution_delta(resolution)
    # The first boundary at or after start (the ceiling of start).
    candle_close = _EPOCH - ((_EPOCH - start) // period) * period
    closes = []
    while candle_close <= end:
        closes.append(candle_close)
        candle_close += period
    return closes
