"""Parsing of the signal a strategy returns (the raw dict from the sandbox).

Pure (no ORM, no I/O): the engine's flow calls :func:`parse_signal` and turns a
:class:`SignalError` into a FAILED execution whose error tells the author what to fix.
Prices become :class:`~decimal.Decimal` here and stay Decimal: money is never a float on
our side. Floats are converted through ``str`` so 0.1 stays 0.1, not 0.1000000000000000055.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .enums import Action

# No instrument trades anywhere near this; a larger figure is a bug in the strategy.
MAX_PRICE = Decimal("1e15")


class SignalError(ValueError):
    """The strategy's signal is unusable; the message is addressed to its author."""


@dataclass(frozen=True)
class Signal:
    action: Action
    entry_price: Decimal
    stop_loss: Decimal | None
    take_profit: Decimal | None


def parse_signal(raw: Any, *, last_close: Decimal) -> Signal:
    """Check and normalise a raw signal; ``entryPrice`` defaults to ``last_close``.

    A BUY needs stopLoss < entryPrice < takeProfit, a SELL takeProfit < entryPrice <
    stopLoss, for whichever of stopLoss/takeProfit it gives.
    """
    if not isinstance(raw, dict):
        raise SignalError(
            f'generate_signal must return a dict such as {{"action": "BUY"}}, '
            f"got {type(raw).__name__}"
        )
    action = raw.get("action")
    if not isinstance(action, str) or action.strip().upper() not in Action.values:
        raise SignalError(f"action must be one of {', '.join(Action.values)}, got {action!r}")
    action = Action(action.strip().upper())
    entry = _price(raw, "entryPrice")
    entry_price = last_close if entry is None else entry
    stop_loss = _price(raw, "stopLoss")
    take_profit = _price(raw, "takeProfit")
    if action == Action.BUY:
        _require_order(stop_loss, "stopLoss", "below", entry_price, action)
        _require_order(entry_price, "takeProfit", "above", take_profit, action)
    elif action == Action.SELL:
        _require_order(take_profit, "takeProfit", "below", entry_price, action)
        _require_order(entry_price, "stopLoss", "above", stop_loss, action)
    return Signal(action, entry_price, stop_loss, take_profit)


def _price(raw: dict[str, Any], key: str) -> Decimal | None:
    value = raw.get(key)
    if value is None:
        return None
    # bool is an int subclass: True would silently become a price of 1.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SignalError(f"{key} must be a number, got {value!r}")
    price = Decimal(str(value))
    if not price.is_finite():
        raise SignalError(f"{key} must be a finite number, got {value!r}")
    if price <= 0:
        raise SignalError(f"{key} must be greater than 0, got {value!r}")
    if price > MAX_PRICE:
        raise SignalError(f"{key} is absurdly large ({value!r}); prices are at most {MAX_PRICE}")
    return price


def _require_order(
    lower: Decimal | None, key: str, side: str, upper: Decimal | None, action: str
) -> None:
    """``lower < upper`` when both are given; ``key`` names the optional one for the message."""
    if lower is None or upper is None or lower < upper:
        return
    given, entry = (lower, upper) if side == "below" else (upper, lower)
    raise SignalError(
        f"a {action}'s {key} must be {side} its entry price {entry}, got {key}={given}"
    )
