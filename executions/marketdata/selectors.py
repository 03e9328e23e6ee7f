"""Reading candles."""

from datetime import datetime

from executions.candles import resolution_delta
from executions.models import Candle

from .base import require_utc


def candles_window(
    *, symbol: str, resolution: int, close_time: datetime, count: int
) -> list[Candle]:
    """The last `count` stored candles that closed at or before `close_time`, oldest first,
    in one query. Gaps are not filled: fewer than `count`, or a missing bar in the middle,
    means the database lacks them (see `candles_backfill`)."""
    if count <= 0:
        return []
    last_open = require_utc(close_time, "close_time") - resolution_delta(resolution)
    candles = list(
        Candle.objects.filter(
            symbol=symbol.replace("/", "").upper(), resolution=resolution, open_time__lte=last_open
        ).order_by("-open_time")[:count]
    )
    candles.reverse()
    return candles
