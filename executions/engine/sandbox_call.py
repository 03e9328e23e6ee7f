"""What the sandbox is given for a strategy: its limits, its candles as columns, its
parameters. Shared by the live engine and the backtests, so both hand a strategy the same
input."""

from collections.abc import Sequence

from django.conf import settings

from executions.sandbox import SandboxLimits
from marketdata.candles import Bar


def sandbox_limits() -> SandboxLimits:
    return SandboxLimits(
        wall_seconds=settings.SANDBOX_WALL_SECONDS,
        cpu_seconds=settings.SANDBOX_CPU_SECONDS,
        memory_mb=settings.SANDBOX_MEMORY_MB,
    )


def candles_payload(candles: Sequence[Bar]) -> dict[str, list]:
    """The candles as the sandbox takes them: columns, oldest first, plain JSON numbers."""
    return {
        "time": [candle.open_time.isoformat() for candle in candles],
        "open": [float(candle.open) for candle in candles],
        "high": [float(candle.high) for candle in candles],
        "low": [float(candle.low) for candle in candles],
        "close": [float(candle.close) for candle in candles],
        "volume": [float(candle.volume) for candle in candles],
    }


def strategy_params(*, symbol: str, resolution: int, lookback: int, params: dict | None) -> dict:
    """The `params` argument of `generate_signal`: the strategy's own execution config and
    nothing else (never a subscriber, a credential or a secret)."""
    return {
        "symbol": symbol,
        "resolution": int(resolution),
        "lookbackPeriod": lookback,
        "params": params or {},
    }
