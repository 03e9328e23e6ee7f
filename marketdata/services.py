"""Writing candles: upsert what a provider or a file delivers, make sure a candle (or a
run of them) is in the database."""

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

from django.db import transaction
from django.utils import timezone

from .candles import (
    RESOLUTIONS,
    Bar,
    candle_close_floor,
    candle_close_of,
    candle_open_of,
    is_candle_aligned,
    resolution_delta,
)
from .models import Candle
from .providers import get_provider
from .providers.base import MarketDataProvider, require_utc

logger = logging.getLogger(__name__)

VALUE_FIELDS = ("open", "high", "low", "close", "volume")
UNIQUE_FIELDS = ("symbol", "resolution", "open_time")
# Matches Candle's DecimalFields: 8 places, at most 16 digits before the point.
_STEP = Decimal("0.00000001")
_LIMIT = Decimal(10) ** 16
_BATCH = 500


@dataclass(frozen=True)
class UpsertReport:
    new: int = 0
    updated: int = 0
    unchanged: int = 0


def _check(symbol: str, resolution: int) -> str:
    if resolution not in RESOLUTIONS:
        raise ValueError(f"Unsupported resolution {resolution!r}; expected one of {RESOLUTIONS}")
    return symbol.replace("/", "").strip().upper()


def _column_value(bar: Bar, name: str) -> Decimal:
    value = getattr(bar, name)
    if not isinstance(value, Decimal) or not value.is_finite() or abs(value) >= _LIMIT:
        raise ValueError(f"{name} of the bar at {bar.open_time.isoformat()} is out of range")
    return value.quantize(_STEP, rounding=ROUND_HALF_EVEN)


def _normalized(bars: Iterable[Bar], resolution: int, now: datetime) -> dict[datetime, dict]:
    values: dict[datetime, dict] = {}
    for bar in bars:
        open_time = require_utc(bar.open_time, "open_time")
        if not is_candle_aligned(open_time, resolution):
            raise ValueError(f"{open_time.isoformat()} is not a {resolution}-minute boundary")
        if candle_close_of(open_time, resolution) > now:
            raise ValueError(f"the candle opening at {open_time.isoformat()} has not closed")
        values[open_time] = {name: _column_value(bar, name) for name in VALUE_FIELDS}
    return values


def candles_upsert(*, symbol: str, resolution: int, bars: Iterable[Bar]) -> UpsertReport:
    """Store bars as candles: insert the new ones, update the ones whose values differ,
    leave equal ones alone. Bulk: one read and one write per batch of 500.

    A bar that has not closed yet or is not on a boundary of the resolution is a bug in
    the caller (providers and the CSV reader filter them) and raises ValueError.
    """
    symbol = _check(symbol, resolution)
    values = _normalized(bars, resolution, timezone.now())
    open_times = sorted(values)
    new = updated = unchanged = 0
    with transaction.atomic():
        for offset in range(0, len(open_times), _BATCH):
            batch = open_times[offset : offset + _BATCH]
            stored = {
                row["open_time"]: row
                for row in Candle.objects.filter(
                    symbol=symbol, resolution=resolution, open_time__in=batch
                ).values("open_time", *VALUE_FIELDS)
            }
            writes = []
            for open_time in batch:
                row = stored.get(open_time)
                if row is None:
                    new += 1
                elif any(row[name] != values[open_time][name] for name in VALUE_FIELDS):
                    updated += 1
                else:
                    unchanged += 1
                    continue
                writes.append(
                    Candle(
                        symbol=symbol,
                        resolution=resolution,
                        open_time=open_time,
                        **values[open_time],
                    )
                )
            if writes:
                # A concurrent writer may have inserted the same bar since the read:
                # the conflict clause turns that into an update instead of an error.
                Candle.objects.bulk_create(
                    writes,
                    update_conflicts=True,
                    unique_fields=UNIQUE_FIELDS,
                    update_fields=VALUE_FIELDS,
                )
    return UpsertReport(new=new, updated=updated, unchanged=unchanged)


def candle_ensure(
    *,
    symbol: str,
    resolution: int,
    candle_close: datetime,
    provider: MarketDataProvider | None = None,
) -> Candle | None:
    """The candle that closes at `candle_close`, fetched from the provider (the configured
    one unless given) when the database lacks it. None when it has not closed yet or the
    provider has no such bar. `candle_close` must lie on a boundary of the resolution.
    Provider failures raise `MarketDataError`."""
    symbol = _check(symbol, resolution)
    candle_close = require_utc(candle_close, "candle_close")
    open_time = candle_open_of(candle_close, resolution)
    if candle_close > timezone.now():
        return None
    lookup = {"symbol": symbol, "resolution": resolution, "open_time": open_time}
    candle = Candle.objects.filter(**lookup).first()
    if candle is not None:
        return candle
    provider = provider or get_provider()
    bars = provider.fetch_candles(
        symbol=symbol, resolution=resolution, start=open_time, end=candle_close
    )
    bars = [bar for bar in bars if bar.open_time == open_time]
    if not bars:
        logger.warning(
            "%s has no %s:%s candle closing at %s",
            provider.name,
            symbol,
            resolution,
            candle_close.isoformat(),
        )
        return None
    candles_upsert(symbol=symbol, resolution=resolution, bars=bars)
    return Candle.objects.get(**lookup)


def candles_backfill(
    *,
    symbol: str,
    resolution: int,
    end_close: datetime,
    count: int,
    provider: MarketDataProvider | None = None,
) -> int:
    """Make sure the `count` candles closing at or before `end_close` (floored to the
    resolution, and never later than the last closed candle) are stored. The missing ones
    come from one provider call spanning the first to the last gap; candles already
    stored are left as they are. Answers how many candles were added."""
    symbol = _check(symbol, resolution)
    if count <= 0:
        return 0
    period = resolution_delta(resolution)
    end_close = min(
        candle_close_floor(require_utc(end_close, "end_close"), resolution),
        candle_close_floor(timezone.now(), resolution),
    )
    wanted = [end_close - period * k for k in range(count, 0, -1)]
    stored = set(
        Candle.objects.filter(
            symbol=symbol,
            resolution=resolution,
            open_time__gte=wanted[0],
            open_time__lte=wanted[-1],
        ).values_list("open_time", flat=True)
    )
    missing = {open_time for open_time in wanted if open_time not in stored}
    if not missing:
        return 0
    provider = provider or get_provider()
    bars = provider.fetch_candles(
        symbol=symbol, resolution=resolution, start=min(missing), end=max(missing) + period
    )
    report = candles_upsert(
        symbol=symbol,
        resolution=resolution,
        bars=[bar for bar in bars if bar.open_time in missing],
    )
    return report.new


# Candles asked of a provider per call: within the synthetic provider's and ccxt's limits.
FETCH_CHUNK = 20_000


def candles_fetch_between(
    *,
    symbol: str,
    resolution: int,
    first_close: datetime,
    last_close: datetime,
    provider: MarketDataProvider | None = None,
) -> int:
    """Make sure every candle closing in [first_close, last_close] that the provider has is
    stored (the stored ones are kept), asking for at most FETCH_CHUNK candles per call.
    Answers how many were added; MarketDataError when the provider cannot answer."""
    provider = provider or get_provider()
    period = resolution_delta(resolution)
    last_close = min(
        candle_close_floor(require_utc(last_close, "last_close"), resolution),
        candle_close_floor(timezone.now(), resolution),
    )
    added = 0
    chunk_end = last_close
    while chunk_end >= first_close:
        count = min(FETCH_CHUNK, (chunk_end - first_close) // period + 1)
        added += candles_backfill(
            symbol=symbol,
            resolution=resolution,
            end_close=chunk_end,
            count=count,
            provider=provider,
        )
        chunk_end -= period * count
    return added
