"""Technical indicators available to strategy code (``import indicators``).

Pure Python on lists of floats, standard library only: this module is loaded inside the
sandbox, so it must never import Django or any other project module.

Conventions
-----------
* Every series function returns a list **aligned with its input**: ``out[i]`` belongs to
  the same bar as ``values[i]`` (oldest first, like ``candles.close``), and ``out[-1]`` is
  the value on the last closed bar.
* Where the indicator is not yet defined (its warm-up period) the value is ``None``.
  ``sma``/``ema``/``highest``/``lowest``/``atr`` of period ``n`` start at index ``n - 1``;
  ``rsi`` of period ``n`` starts at index ``n`` (it needs ``n`` price changes).
* ``ema`` is seeded with the simple average of its first ``period`` values.
* Sums are ``math.fsum`` (correctly rounded): ``sma`` sums each window afresh, so equal
  windows give equal averages exactly and crossovers on ties are decided by the data.
* ``rsi`` and ``atr`` use Wilder's smoothing: ``avg = (prev_avg * (n - 1) + current) / n``.
* ``crossover``/``crossunder`` answer a single ``bool`` about the last bar; ``b`` may be a
  series or a number (a fixed level such as 30 for RSI).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Series = list[float | None]

__all__ = ["atr", "crossover", "crossunder", "ema", "highest", "lowest", "rsi", "sma"]


def _check_period(period: int) -> None:
    if not isinstance(period, int) or isinstance(period, bool) or period < 1:
        raise ValueError(f"period must be a positive integer, got {period!r}")


def sma(values: Sequence[float], period: int) -> Series:
    """Simple moving average: mean of the last ``period`` values.

    Each window is summed afresh with ``math.fsum`` (the correctly rounded sum), so a
    window's average depends on its values only: two windows holding the same values give
    the same average exactly, whatever came before (a running sum carries the rounding
    error of every value it ever added and subtracted, and breaks such ties)."""
    _check_period(period)
    out: Series = [None] * len(values)
    for i in range(period - 1, len(values)):
        out[i] = math.fsum(values[i - period + 1 : i + 1]) / period
    return out


def ema(values: Sequence[float], period: int) -> Series:
    """Exponential moving average, alpha = 2 / (period + 1), seeded with the first SMA."""
    _check_period(period)
    out: Series = [None] * len(values)
    if len(values) < period:
        return out
    alpha = 2.0 / (period + 1)
    current = math.fsum(values[:period]) / period
    out[period - 1] = current
    for i in range(period, len(values)):
        current = alpha * values[i] + (1 - alpha) * current
        out[i] = current
    return out


def rsi(values: Sequence[float], period: int = 14) -> Series:
    """Relative Strength Index (Wilder), 0-100. A flat market (no gains, no losses) is 50."""
    _check_period(period)
    out: Series = [None] * len(values)
    if len(values) <= period:
        return out
    changes = [values[i] - values[i - 1] for i in range(1, len(values))]
    avg_gain = math.fsum(max(c, 0.0) for c in changes[:period]) / period
    avg_loss = math.fsum(max(-c, 0.0) for c in changes[:period]) / period
    out[period] = _rsi_value(avg_gain, avg_loss)
    for i in range(period + 1, len(values)):
        change = changes[i - 1]
        avg_gain = (avg_gain * (period - 1) + max(change, 0.0)) / period
        avg_loss = (avg_loss * (period - 1) + max(-change, 0.0)) / period
        out[i] = _rsi_value(avg_gain, avg_loss)
    return out


def _rsi_value(avg_gain: float, avg_loss: float) -> float:
    if avg_loss == 0:
        return 100.0 if avg_gain > 0 else 50.0
    return 100.0 - 100.0 / (1.0 + avg_gain / avg_loss)


def atr(
    high: Sequence[float],
    low: Sequence[float],
    close: Sequence[float],
    period: int = 14,
) -> Series:
    """Average True Range (Wilder).

    The true range of the first bar is ``high - low`` (there is no previous close); the
    first ATR, at index ``period - 1``, is the mean of the first ``period`` true ranges.
    """
    _check_period(period)
    if not len(high) == len(low) == len(close):
        raise ValueError("high, low and close must have the same length")
    true_ranges = [high[0] - low[0]] if close else []
    for i in range(1, len(close)):
        previous = close[i - 1]
        true_ranges.append(max(high[i] - low[i], abs(high[i] - previous), abs(low[i] - previous)))
    out: Series = [None] * len(close)
    if len(true_ranges) < period:
        return out
    current = math.fsum(true_ranges[:period]) / period
    out[period - 1] = current
    for i in range(period, len(true_ranges)):
        current = (current * (period - 1) + true_ranges[i]) / period
        out[i] = current
    return out


def highest(values: Sequence[float], period: int) -> Series:
    """Highest value of the last ``period`` values."""
    _check_period(period)
    return [
        max(values[i - period + 1 : i + 1]) if i >= period - 1 else None for i in range(len(values))
    ]


def lowest(values: Sequence[float], period: int) -> Series:
    """Lowest value of the last ``period`` values."""
    _check_period(period)
    return [
        min(values[i - period + 1 : i + 1]) if i >= period - 1 else None for i in range(len(values))
    ]


def _last_two(
    series: Sequence[float | None] | float,
) -> tuple[float | None, float | None]:
    if isinstance(series, (int, float)):
        return float(series), float(series)
    if len(series) < 2:
        return None, None
    return series[-2], series[-1]


def crossover(a: Sequence[float | None], b: Sequence[float | None] | float) -> bool:
    """True when ``a`` crossed above ``b`` on the last bar (was <= before, is > now)."""
    a_prev, a_last = _last_two(a)
    b_prev, b_last = _last_two(b)
    if None in (a_prev, a_last, b_prev, b_last):
        return False
    return a_prev <= b_prev and a_last > b_last


def crossunder(a: Sequence[float | None], b: Sequence[float | None] | float) -> bool:
    """True when ``a`` crossed below ``b`` on the last bar (was >= before, is < now)."""
    a_prev, a_last = _last_two(a)
    b_prev, b_last = _last_two(b)
    if None in (a_prev, a_last, b_prev, b_last):
        return False
    return a_prev >= b_prev and a_last < b_last
