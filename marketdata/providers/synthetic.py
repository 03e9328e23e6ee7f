"""A deterministic, stateless synthetic market.

The log price of a symbol is a function of time alone: a sum of "octaves" of value noise.
Each octave places a seeded random value in [-1, 1] every `spacing` minutes (a hash of
symbol, octave and knot number) and interpolates linearly between knots. The fast
octaves' amplitudes grow with the square root of their spacing, as a random walk's
spread does, so the path looks like a walk at every scale from one minute to days; the
slow octaves are bounded, which keeps prices in a realistic band (BTCUSDT about 40k-70k,
ETHUSDT about 2k-4k) forever.

Any candle can therefore be produced on its own, and every resolution agrees on opens
and closes (a 5-minute candle opens at the 1-minute candle's open and closes at the
fifth one's close). Highs and lows sample the path inside the bar and add a small seeded
wick, so they are consistent with open and close but not exactly across resolutions.
"""

import hashlib
import math
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache

from django.utils import timezone

from marketdata.candles import Bar, resolution_delta

from .base import Clock, MarketDataError, require_utc

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Fast octaves: spacing in minutes; amplitude = per-minute volatility * sqrt(spacing).
_FAST_SPACINGS = (1, 4, 16, 64, 256, 1024, 4096)
# Slow octaves (two weeks, two months, a year): fixed amplitudes in log price.
_SLOW_OCTAVES = ((20_160, 0.04), (86_400, 0.05), (525_600, 0.08))
# Known symbols: (centre price, per-minute volatility in log price).
_KNOWN = {
    "BTCUSDT": (53_000.0, 0.0008),
    "ETHUSDT": (2_900.0, 0.001),
    "SOLUSDT": (150.0, 0.0012),
    "BNBUSDT": (600.0, 0.001),
}
MAX_BARS_PER_CALL = 50_000


@lru_cache(maxsize=1 << 16)
def _unit(symbol: str, salt: str, n: int) -> float:
    """A seeded uniform number in [0, 1) for (symbol, salt, n)."""
    digest = hashlib.blake2b(f"{symbol}|{salt}|{n}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


class SyntheticMarket:
    """The price path of one symbol."""

    def __init__(self, symbol: str):
        self.symbol = symbol.replace("/", "").upper()
        if self.symbol in _KNOWN:
            self.centre, self.volatility = _KNOWN[self.symbol]
        else:
            # 0.1 to 1000, spread evenly in log terms, fixed by the name.
            self.centre = 10 ** (_unit(self.symbol, "centre", 0) * 4 - 1)
            self.volatility = 0.0012
        self.octaves = [(s, self.volatility * math.sqrt(s)) for s in _FAST_SPACINGS]
        self.octaves += list(_SLOW_OCTAVES)
        if self.centre >= 1000:
            places = 2
        elif self.centre >= 10:
            places = 3
        elif self.centre >= 1:
            places = 4
        else:
            places = 6
        self.price_step = Decimal(1).scaleb(-places)
        # Volume in base units per minute: roughly a million quote units a minute.
        self.base_volume = 1_000_000 / self.centre

    def price_bounds(self) -> tuple[float, float]:
        """The lowest and highest price the path can ever reach (every octave at its
        extreme at once); real excursions stay well inside."""
        reach = sum(amplitude for _, amplitude in self.octaves)
        return self.centre * math.exp(-reach), self.centre * math.exp(reach)

    def price(self, minute: int) -> float:
        """The price at a whole minute since the epoch."""
        log_offset = 0.0
        for index, (spacing, amplitude) in enumerate(self.octaves):
            knot, into = divmod(minute, spacing)
            left = _unit(self.symbol, f"o{index}", knot) * 2 - 1
            right = _unit(self.symbol, f"o{index}", knot + 1) * 2 - 1
            log_offset += amplitude * (left + (right - left) * into / spacing)
        return self.centre * math.exp(log_offset)

    def _quantize(self, value: float) -> Decimal:
        price = Decimal(repr(value)).quantize(self.price_step, rounding=ROUND_HALF_EVEN)
        return max(price, self.price_step)

    def bar(self, open_minute: int, resolution: int) -> Bar:
        close_minute = open_minute + resolution
        step = max(1, resolution // 12)
        path = [self.price(m) for m in range(open_minute, close_minute, step)]
        path.append(self.price(close_minute))
        open_, close = path[0], path[-1]
        salt = f"{resolution}"
        wick = self.volatility * math.sqrt(step)
        high = max(path) * math.exp(wick * _unit(self.symbol, "wh" + salt, open_minute))
        low = min(path) * math.exp(-wick * _unit(self.symbol, "wl" + salt, open_minute))
        activity = 0.4 + 1.2 * _unit(self.symbol, "v" + salt, open_minute)
        volume = self.base_volume * resolution * activity * (1 + 50 * abs(math.log(close / open_)))
        return Bar(
            open_time=_EPOCH + timedelta(minutes=open_minute),
            open=self._quantize(open_),
            high=self._quantize(high),
            low=self._quantize(low),
            close=self._quantize(close),
            volume=max(Decimal(repr(volume)).quantize(Decimal("0.0001")), Decimal("0.0001")),
        )


class SyntheticProvider:
    name = "synthetic"

    def __init__(self, *, clock: Clock = timezone.now):
        self.clock = clock

    def fetch_candles(
        self, *, symbol: str, resolution: int, start: datetime, end: datetime
    ) -> list[Bar]:
        start, end = require_utc(start, "start"), require_utc(end, "end")
        period = resolution_delta(resolution)
        # Only bars that have closed: the last one may open at now - period.
        end = min(end, require_utc(self.clock(), "now") - period + timedelta(microseconds=1))
        minutes = resolution_delta(1)
        first = -((_EPOCH - start) // period)  # ceil: the first boundary at or after start
        last = -((_EPOCH - end) // period)  # the first boundary at or after end (excluded)
        if last - first > MAX_BARS_PER_CALL:
            raise MarketDataError(f"Asked for more than {MAX_BARS_PER_CALL} synthetic candles")
        market = SyntheticMarket(symbol)
        per_bar = period // minutes
        return [market.bar(n * per_bar, per_bar) for n in range(first, last)]
