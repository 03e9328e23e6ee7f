"""Validation of the signal a strategy returns (the raw dict from the sandbox).

Pure (no ORM, no I/O): the live engine and the backtest call :func:`parse_signal` and
turn a :class:`SignalError` into a FAILED execution (a skipped step in a backtest) whose
message tells the author what to fix.

No number from the strategy is trusted for money. The platform prices the entry itself:
``Signal.entry_price`` is always the signal candle's close (``last_close``), whatever the
strategy's ``entryPrice`` says (that key is informational: checked to be a price, never
used). The strategy's ``stopLoss`` and ``takeProfit`` are used, once checked against that
price: on the right side of it and within ``band`` of it (``SIGNAL_PRICE_BAND``, 50% by
default), so a stop at 0.5 on a 42,000 market is refused rather than sized.

Rounding happens once, here: each price becomes a :class:`~decimal.Decimal` through
``str`` (0.1 stays 0.1, not 0.1000000000000000055), rounded half-even to the stored step
(``rules.PRICE_STEP``, 8 places). Sizing, the stored trade and the exit checks all use
that one rounded value, live and in backtests alike.

The whole signal must be storable as it is (``StrategyExecution.signal`` is PostgreSQL
jsonb): NaN and ±Infinity anywhere, a NUL character in a string, or more than
``MAX_SIGNAL_BYTES`` of JSON (the sandbox's cap, live and in backtests) fail it with
``SignalError.storable`` False, and the engine then keeps the message but not the signal.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from executions.sandbox import MAX_SIGNAL_BYTES

from .enums import Action
from .rules import PRICE_STEP

# No instrument trades anywhere near this; a larger figure is a bug in the strategy. It is
# also well inside what a price column stores (24 digits, 8 of them decimal places).
MAX_PRICE = Decimal("1e15")
# How far from the platform's price a stop-loss or take-profit may lie, as a fraction of it.
DEFAULT_PRICE_BAND = Decimal("0.5")


class SignalError(ValueError):
    """The strategy's signal is unusable; the message is addressed to its author.

    ``storable`` is False when the signal itself cannot be kept on the execution row."""

    def __init__(self, message: str, *, storable: bool = True):
        super().__init__(message)
        self.storable = storable


@dataclass(frozen=True)
class Signal:
    action: Action
    entry_price: Decimal  # the platform's price: the signal candle's close
    stop_loss: Decimal | None
    take_profit: Decimal | None


def parse_signal(raw: Any, *, last_close: Decimal, band: Decimal = DEFAULT_PRICE_BAND) -> Signal:
    """Check and normalise a raw signal against the platform's price ``last_close``.

    A BUY needs stopLoss < last_close < takeProfit, a SELL takeProfit < last_close <
    stopLoss, for whichever of stopLoss/takeProfit it gives, each within
    ``band x last_close`` of the price.
    """
    if not isinstance(raw, dict):
        raise SignalError(
            f'generate_signal must return a dict such as {{"action": "BUY"}}, '
            f"got {type(raw).__name__}"
        )
    _require_storable(raw)
    action = raw.get("action")
    if not isinstance(action, str) or action.strip().upper() not in Action.values:
        raise SignalError(f"action must be one of {', '.join(Action.values)}, got {action!r}")
    action = Action(action.strip().upper())
    _price(raw, "entryPrice")  # informational: a price or nothing, never used
    stop_loss = _price(raw, "stopLoss")
    take_profit = _price(raw, "takeProfit")
    if action in (Action.BUY, Action.SELL):
        stop_side, target_side = ("below", "above") if action == Action.BUY else ("above", "below")
        _require_near(stop_loss, "stopLoss", stop_side, last_close, band, action)
        _require_near(take_profit, "takeProfit", target_side, last_close, band, action)
    return Signal(action, last_close, stop_loss, take_profit)


def _require_storable(raw: dict[str, Any]) -> None:
    """Every value JSON that PostgreSQL stores as it is, and the whole at most
    MAX_SIGNAL_BYTES (measured as the sandbox measures it)."""
    size = len(json.dumps(raw))
    if size > MAX_SIGNAL_BYTES:
        raise SignalError(
            f"the signal is larger than {MAX_SIGNAL_BYTES} bytes ({size} bytes as JSON)",
            storable=False,
        )
    pending: list[tuple[str, Any]] = [("", raw)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, float) and not math.isfinite(value):
            raise SignalError(
                f"{path} must be a finite number, got {value!r} (NaN and Infinity are not "
                "JSON numbers)",
                storable=False,
            )
        if isinstance(value, str) and "\x00" in value:
            raise SignalError(f"{path} contains a NUL character", storable=False)
        if isinstance(value, dict):
            for key, item in value.items():
                if "\x00" in key:
                    raise SignalError(
                        f"a key of {path or 'the signal'} contains a NUL character",
                        storable=False,
                    )
                pending.append((f"{path}.{key}" if path else key, item))
        elif isinstance(value, list):
            pending.extend((f"{path}[{index}]", item) for index, item in enumerate(value))


def _price(raw: dict[str, Any], key: str) -> Decimal | None:
    """The price at `key`, rounded to the stored step, or None when absent."""
    value = raw.get(key)
    if value is None:
        return None
    # bool is an int subclass: True would silently become a price of 1.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SignalError(f"{key} must be a number, got {value!r}")
    price = Decimal(str(value))
    if price <= 0:
        raise SignalError(f"{key} must be greater than 0, got {value!r}")
    if price > MAX_PRICE:
        raise SignalError(f"{key} is absurdly large ({value!r}); prices are at most {MAX_PRICE}")
    rounded = price.quantize(PRICE_STEP, rounding=ROUND_HALF_EVEN)
    if rounded <= 0:
        raise SignalError(
            f"{key} ({value!r}) is below the smallest price step, {PRICE_STEP:f}: it rounds to 0"
        )
    return rounded


def _require_near(
    level: Decimal | None, key: str, side: str, price: Decimal, band: Decimal, action: str
) -> None:
    """`level` strictly on `side` of `price` and at most `band x price` away from it."""
    if level is None:
        return
    reach = price * band
    if side == "below":
        ok = price - reach <= level < price
        bounds = f"from {_plain(price - reach)} up to (not including) {_plain(price)}"
    else:
        ok = price < level <= price + reach
        bounds = f"above {_plain(price)} up to {_plain(price + reach)}"
    if not ok:
        raise SignalError(
            f"a {action}'s {key} must be {side} the price {_plain(price)} (the signal "
            f"candle's close) and within {_plain(band * 100)}% of it, {bounds}; "
            f"got {key}={_plain(level)}"
        )


def _plain(number: Decimal) -> str:
    """A Decimal without exponent or trailing zeros: 42000, 0.5, 21000."""
    return f"{number.normalize():f}"
