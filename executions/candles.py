"""Candle time arithmetic, pure (no Django, no I/O): the engine and the market data
share it.

Candles are aligned on the Unix epoch: a candle of `resolution` minutes opens at a whole
multiple of `resolution` minutes since 1970-01-01T00:00Z. So 1440 opens at midnight UTC,
240 at 00:00, 04:00, 08:00 … UTC, 60 on the hour.
"""

from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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


def candle_open_time(close_time: datetime, resolution: int) -> datetime:
    """The open time of the candle closing at `close_time` (which must be aligned)."""
    if not is_candle_aligned(close_time, resolution):
        raise ValueError(f"{close_time.isoformat()} is not a {resolution}-minute candle boundary")
    return (close_time - resolution_delta(resolution)).astimezone(UTC)


def candle_close_time(open_time: datetime, resolution: int) -> datetime:
    """The close time of the candle opening at `open_time`."""
    _require_aware(open_time)
    return (open_time + resolution_delta(resolution)).astimezone(UTC)
