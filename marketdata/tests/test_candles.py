from datetime import UTC, datetime, timedelta, timezone

import pytest

from marketdata.candles import (
    candle_close_floor,
    candle_close_of,
    candle_open_of,
    is_candle_aligned,
    resolution_delta,
)

MS = timedelta(milliseconds=1)


@pytest.mark.parametrize(
    ("resolution", "boundary"),
    [
        (1, datetime(2026, 3, 4, 10, 17, tzinfo=UTC)),
        (5, datetime(2026, 3, 4, 10, 15, tzinfo=UTC)),
        (15, datetime(2026, 3, 4, 10, 45, tzinfo=UTC)),
        (30, datetime(2026, 3, 4, 10, 30, tzinfo=UTC)),
        (60, datetime(2026, 3, 4, 10, 0, tzinfo=UTC)),
        (240, datetime(2026, 3, 4, 8, 0, tzinfo=UTC)),
        (1440, datetime(2026, 3, 4, 0, 0, tzinfo=UTC)),
    ],
)
def test_floor_at_exact_boundary_and_just_after_names_the_candle_just_closed(resolution, boundary):
    assert candle_close_floor(boundary, resolution) == boundary
    # A scheduler tick a few ms late must not jump to the next candle.
    assert candle_close_floor(boundary + MS, resolution) == boundary
    assert candle_close_floor(boundary + timedelta(seconds=3), resolution) == boundary


@pytest.mark.parametrize("resolution", [1, 5, 15, 30, 60, 240, 1440])
def test_floor_just_before_a_boundary_is_the_previous_one(resolution):
    boundary = datetime(2026, 3, 4, tzinfo=UTC)
    assert candle_close_floor(boundary - MS, resolution) == boundary - timedelta(minutes=resolution)


def test_four_hour_and_daily_candles_align_on_utc_midnight():
    now = datetime(2026, 3, 4, 23, 59, 59, tzinfo=UTC)
    assert candle_close_floor(now, 240) == datetime(2026, 3, 4, 20, 0, tzinfo=UTC)
    assert candle_close_floor(now, 1440) == datetime(2026, 3, 4, 0, 0, tzinfo=UTC)


def test_floor_of_a_non_utc_time_is_in_utc():
    paris = timezone(timedelta(hours=1))
    now = datetime(2026, 3, 4, 1, 30, 0, 5000, tzinfo=paris)  # 00:30:00.005 UTC
    floored = candle_close_floor(now, 1440)
    assert floored == datetime(2026, 3, 4, tzinfo=UTC)
    assert floored.utcoffset() == timedelta(0)


def test_naive_times_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        candle_close_floor(datetime(2026, 3, 4), 5)


def test_bad_resolution_is_refused():
    with pytest.raises(ValueError, match="positive"):
        resolution_delta(0)


def test_alignment_and_open_close_conversion():
    close = datetime(2026, 3, 4, 8, 0, tzinfo=UTC)
    assert is_candle_aligned(close, 240)
    assert not is_candle_aligned(close + timedelta(minutes=1), 240)
    assert not is_candle_aligned(close + MS, 1)
    assert candle_open_of(close, 240) == datetime(2026, 3, 4, 4, 0, tzinfo=UTC)
    assert candle_close_of(datetime(2026, 3, 4, 4, 0, tzinfo=UTC), 240) == close
    with pytest.raises(ValueError, match="boundary"):
        candle_open_of(close + timedelta(minutes=5), 240)
