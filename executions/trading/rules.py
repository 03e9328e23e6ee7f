"""Pure trading logic: sizing, stops, exits, PnL and eligibility.

Plain values in, decisions out: no ORM, no Redis, no clock. The live engine
(`executions.engine`) calls it at every candle close, and a backtest (`backtests`)
replays the same functions over history and gets the same trades.

Money, prices and quantities are Decimals throughout; nothing here touches a float.
Each is rounded once, at a named step: a quantity down to QUANTITY_STEP when it is sized,
a price half-even to PRICE_STEP when it is parsed or derived, money (PnL) half-even to MONEY_STEP
when it is computed from those rounded values (README "Numbers and times").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal, localcontext
from itertools import pairwise

from marketdata.candles import Bar

from .enums import Action, ExitReason, Side

# A sized quantity has 8 decimals, what the API shows: the quantity a person reads is the
# one traded (a market's coarser amount step applies on top, in the orders worker). Prices
# and PnL have 8 too; a PnL is the quantity x the prices' move, rounded once (`pnl`).
QUANTITY_STEP = Decimal("1e-8")
MONEY_STEP = Decimal("1e-8")  # PnL, fees and the money a backtest computes
PRICE_STEP = Decimal("1e-8")
ATR_PERIOD = 14
ATR_STEP = Decimal("1e-12")
ZERO = Decimal(0)

# Enough digits for capital x leverage / price at any realistic magnitude, so the only
# rounding that ever happens is the explicit quantize below.
_PRECISION = 60


@dataclass(frozen=True)
class Position:
    """An open position as the exit rules see it."""

    side: str  # BUY (long) or SELL (short)
    entry_price: Decimal
    stop_loss: Decimal
    take_profit: Decimal | None = None


@dataclass(frozen=True)
class Stops:
    """The protective prices of a new position, or why there are none."""

    stop_loss: Decimal | None
    take_profit: Decimal | None
    reason: str = ""  # set when stop_loss is None: the position is not opened


def position_size(
    *,
    capital: Decimal,
    risk_per_trade: Decimal,
    leverage: Decimal | int,
    entry_price: Decimal,
    stop_loss: Decimal,
) -> Decimal:
    """The quantity whose stop-out loses `capital x risk_per_trade`, capped by leverage.

    quantity = capital x risk / |entry - stop|, then reduced so that the notional
    (quantity x entry) never exceeds capital x leverage. Leverage only caps exposure: it
    never multiplies the risk (the original design's formula did, and lost ten times the
    intended amount on a stop-out at the default leverage of 10). The quantity is rounded
    DOWN to QUANTITY_STEP (8 places), so a stop-out loses at most capital x risk, or more
    when the market opened beyond the stop (`exit_for_candle` fills a gap at the open).
    `entry_price` is the platform's price (the signal candle's close), never the
    strategy's.
    Returns 0 when no position can be taken (no distance to the stop, no capital).
    """
    with localcontext() as context:
        context.prec = _PRECISION
        distance = abs(entry_price - stop_loss)
        if distance <= 0 or entry_price <= 0 or capital <= 0 or risk_per_trade <= 0:
            return ZERO
        quantity = capital * risk_per_trade / distance
        max_quantity = capital * Decimal(leverage) / entry_price
        quantity = min(quantity, max_quantity)
        return quantity.quantize(QUANTITY_STEP, rounding=ROUND_DOWN)


def true_ranges(bars: Sequence[Bar]) -> list[Decimal]:
    """Wilder's true range of every bar after the first (each needs the previous close)."""
    ranges = []
    for previous, bar in pairwise(bars):
        ranges.append(
            max(
                bar.high - bar.low,
                abs(bar.high - previous.close),
                abs(bar.low - previous.close),
            )
        )
    return ranges


def average_true_range(bars: Sequence[Bar], period: int = ATR_PERIOD) -> Decimal | None:
    """Wilder's ATR over `bars` (oldest first), or None with fewer than period + 1 bars.

    The first value is the mean of the first `period` true ranges; each later one is
    smoothed as (previous x (period - 1) + TR) / period; the result has 12 places.
    """
    ranges = true_ranges(bars)
    if len(ranges) < period:
        return None
    with localcontext() as context:
        context.prec = _PRECISION
        atr = sum(ranges[:period], ZERO) / period
        for true_range in ranges[period:]:
            atr = (atr * (period - 1) + true_range) / period
        return atr.quantize(ATR_STEP, rounding=ROUND_HALF_EVEN)


def stops_for_entry(
    *,
    side: str,
    entry_price: Decimal,
    signal_stop_loss: Decimal | None,
    signal_take_profit: Decimal | None,
    atr: Decimal | None,
    sl_atr_multiplier: Decimal | None,
    tp_atr_multiplier: Decimal | None,
) -> Stops:
    """The stop and target of a new position for one subscription.

    The strategy's own stopLoss/takeProfit win. Missing ones fall back to the
    subscription's multipliers x ATR(14): stop = entry ∓ sl x ATR, target = entry ± tp x ATR
    (- for a long's stop, + for a short's). Without a stop from either, no position.
    """
    direction = Decimal(1) if side == Side.BUY else Decimal(-1)
    stop_loss, take_profit = signal_stop_loss, signal_take_profit
    if stop_loss is None:
        if sl_atr_multiplier is None:
            reason = "no stop-loss: the signal has none and slAtrMultiplier is unset"
            return Stops(None, None, reason)
        if atr is None:
            return Stops(None, None, f"no stop-loss: ATR({ATR_PERIOD}) needs more candles")
        if atr <= 0 or sl_atr_multiplier <= 0:
            return Stops(None, None, "no stop-loss: ATR fallback gives no distance")
        stop_loss = (entry_price - direction * sl_atr_multiplier * atr).quantize(
            PRICE_STEP, rounding=ROUND_HALF_EVEN
        )
        if stop_loss <= 0:
            return Stops(None, None, "no stop-loss: ATR fallback stop is not a positive price")
    if take_profit is None and tp_atr_multiplier is not None and atr is not None and atr > 0:
        take_profit = (entry_price + direction * tp_atr_multiplier * atr).quantize(
            PRICE_STEP, rounding=ROUND_HALF_EVEN
        )
        if take_profit <= 0:
            take_profit = None
    return Stops(stop_loss, take_profit)


@dataclass(frozen=True)
class Entry:
    """A new position for one subscriber: its size and protective prices, or why none."""

    quantity: Decimal
    stop_loss: Decimal | None
    take_profit: Decimal | None
    reason: str = ""  # set when quantity is 0: the position is not opened


def needs_atr(*, signal_stop_loss: Decimal | None, signal_take_profit: Decimal | None) -> bool:
    """Whether `entry_for_signal` may fall back on the ATR (compute it only then)."""
    return signal_stop_loss is None or signal_take_profit is None


def entry_for_signal(
    *,
    side: str,
    entry_price: Decimal,
    signal_stop_loss: Decimal | None,
    signal_take_profit: Decimal | None,
    atr: Decimal | None,
    capital: Decimal,
    risk_per_trade: Decimal,
    leverage: Decimal | int,
    sl_atr_multiplier: Decimal | None,
    tp_atr_multiplier: Decimal | None,
) -> Entry:
    """The position an eligible subscription takes on a BUY/SELL signal: the stops of
    `stops_for_entry`, the quantity of `position_size`. One implementation for the live
    engine and the backtest."""
    stops = stops_for_entry(
        side=side,
        entry_price=entry_price,
        signal_stop_loss=signal_stop_loss,
        signal_take_profit=signal_take_profit,
        atr=atr,
        sl_atr_multiplier=sl_atr_multiplier,
        tp_atr_multiplier=tp_atr_multiplier,
    )
    if stops.stop_loss is None:
        return Entry(ZERO, None, None, stops.reason)
    quantity = position_size(
        capital=capital,
        risk_per_trade=risk_per_trade,
        leverage=leverage,
        entry_price=entry_price,
        stop_loss=stops.stop_loss,
    )
    if quantity <= 0:
        return Entry(ZERO, stops.stop_loss, stops.take_profit, "position size rounds to zero")
    return Entry(quantity, stops.stop_loss, stops.take_profit)


@dataclass(frozen=True)
class SignalCloses:
    """The open positions a signal closes at its entry price: `sides` None means all."""

    sides: tuple[str, ...] | None
    reason: str


def closes_for_signal(action: str) -> SignalCloses | None:
    """EXIT closes every open position of the strategy (reason EXIT); BUY closes the
    shorts and SELL the longs (reason SIGNAL) before opening; HOLD closes nothing."""
    if action == Action.EXIT:
        return SignalCloses(None, ExitReason.EXIT)
    if action in (Action.BUY, Action.SELL):
        opposite = Side.SELL if action == Action.BUY else Side.BUY
        return SignalCloses((opposite,), ExitReason.SIGNAL)
    return None


def exit_for_candle(position: Position, candle: Bar) -> tuple[Decimal, str] | None:
    """The exit a closed candle forces on an open position, as (price, reason), or None.

    A candle that opens beyond the stop-loss (a gap) fills it at the open: the market
    never traded at the stop, so a stop order fills at the first price there was, and the
    loss exceeds the sized risk by the gap. One that opens beyond the take-profit fills it
    at the open too (a limit order fills at the better price). Otherwise a stop-loss or
    take-profit touched anywhere within the candle's range fills at its level; when one
    candle touches both, we cannot know which came first and assume the stop (the
    conservative reading). backtesting.py, backtrader and Freqtrade fill gaps the same way.
    """
    stop, target = position.stop_loss, position.take_profit
    if position.side == Side.BUY:
        if candle.open <= stop:
            return candle.open, ExitReason.STOP_LOSS
        if target is not None and candle.open >= target:
            return candle.open, ExitReason.TAKE_PROFIT
        if candle.low <= stop:
            return stop, ExitReason.STOP_LOSS
        if target is not None and candle.high >= target:
            return target, ExitReason.TAKE_PROFIT
    else:
        if candle.open >= stop:
            return candle.open, ExitReason.STOP_LOSS
        if target is not None and candle.open <= target:
            return candle.open, ExitReason.TAKE_PROFIT
        if candle.high >= stop:
            return stop, ExitReason.STOP_LOSS
        if target is not None and candle.low <= target:
            return target, ExitReason.TAKE_PROFIT
    return None


def pnl(side: str, quantity: Decimal, entry: Decimal, exit: Decimal) -> Decimal:
    """Realised profit (negative: loss) of a closed position: quantity x the move, rounded
    once, half-even, to MONEY_STEP (8 places): the exact product whenever it has no more
    than 8 decimals, otherwise within half a unit of the 8th."""
    with localcontext() as context:
        context.prec = _PRECISION
        move = exit - entry if side == Side.BUY else entry - exit
        return (move * quantity).quantize(MONEY_STEP, rounding=ROUND_HALF_EVEN)


def ineligibility_reason(
    *,
    is_active: bool,
    is_paused: bool,
    credential_active: bool,
    open_trades: int,
    max_positions: int,
    realised_pnl_today: Decimal,
    capital: Decimal,
    max_daily_loss: Decimal,
) -> str:
    """Why a subscription may not open a position now, or "" when it may.

    Today's (UTC) realised loss is the net loss of the positions closed today: it must
    stay strictly below capital x maxDailyLoss for a new position to open.
    """
    if not is_active:
        return "subscription not active"
    if is_paused:
        return "subscription paused"
    if not credential_active:
        return "broker credential inactive"
    if open_trades >= max_positions:
        return "max open positions reached"
    realised_loss = -realised_pnl_today if realised_pnl_today < 0 else ZERO
    if realised_loss >= capital * max_daily_loss:
        return "max daily loss reached"
    return ""
