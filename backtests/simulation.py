"""A backtest's book, pure (no ORM, no sandbox): one subscriber's positions fed one closed
candle and one raw signal at a time.

At each candle close :class:`Simulation` does what the live engine
(`executions.engine`) does at that close, in the same order, with the same functions of
the trading core (`executions.trading.rules` and `executions.trading.signal_parser`):

1. stop-loss / take-profit fills of the open positions within this candle (the stop
   first when the candle touches both: ``rules.exit_for_candle``);
2. the strategy's signal for this close (``parse_signal``: the price is the candle's
   close, never the strategy's ``entryPrice``; stops outside ``SIGNAL_PRICE_BAND`` of it
   make the signal invalid): EXIT closes every open position at that price, BUY/SELL
   first closes the opposite side there (reason SIGNAL), then opens one position if the
   subscriber is eligible (``rules.ineligibility_reason``: max positions, max daily loss
   by UTC day of the close), with the stops and quantity of ``rules.entry_for_signal`` (ATR fallback
   over the same lookback window).

What live does not have, a backtest adds on top: ``fee_rate`` x notional on every entry
and exit fill, and ``slippage`` against the trader on every market fill (entries, signal
exits, stop-loss fills, the final close; a take-profit is a limit order and fills at its
price; a candle that opens beyond a stop or target fills it at the open, as live).
Sizing uses the close, as live does before the broker fills.
Capital is the subscriber's fixed capital, as live (no compounding). A position still
open at the end closes at the last candle's close (reason END) so every trade has a PnL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal

from executions.trading import rules
from executions.trading.enums import Action, ExitReason, Side
from executions.trading.signal_parser import (
    DEFAULT_PRICE_BAND,
    Signal,
    SignalError,
    parse_signal,
)
from marketdata.candles import Bar, resolution_delta
from subscriptions.risk import RiskSettings

ZERO = Decimal(0)
# The exit reason of a position still open when the period ends (BacktestTrade.END).
END = "END"


@dataclass(frozen=True)
class BacktestSettings(RiskSettings):
    """A subscriber's risk settings, plus the costs only a backtest models."""

    fee_rate: Decimal = ZERO
    slippage: Decimal = ZERO

    @classmethod
    def from_params(cls, params: dict) -> BacktestSettings:
        """From `Backtest.params` (numbers stored as strings; a missing one takes the
        subscription's default)."""
        given = {
            name: Decimal(str(value)) if isinstance(value, (str, float)) else value
            for name, value in params.items()
            if value is not None and name in cls.__dataclass_fields__
        }
        return cls(**given)


@dataclass
class SimulatedTrade:
    side: str
    quantity: Decimal
    entry_time: datetime
    entry_price: Decimal  # the fill, after slippage
    stop_loss: Decimal
    take_profit: Decimal | None
    fee: Decimal  # entry fee, plus the exit fee once closed
    exit_time: datetime | None = None
    exit_price: Decimal | None = None
    exit_reason: str = ""
    pnl: Decimal | None = None  # net of both fees

    def position(self) -> rules.Position:
        return rules.Position(self.side, self.entry_price, self.stop_loss, self.take_profit)


def _money(value: Decimal) -> Decimal:
    return value.quantize(rules.MONEY_STEP, rounding=ROUND_HALF_EVEN)


@dataclass
class Simulation:
    """One subscriber's book over closed candles, in the live engine's order (see the
    module docstring). Feed it with :meth:`step`, end it with :meth:`finish`."""

    settings: BacktestSettings
    resolution: int
    price_band: Decimal = DEFAULT_PRICE_BAND  # SIGNAL_PRICE_BAND, as live
    open_trades: list[SimulatedTrade] = field(default_factory=list)
    closed_trades: list[SimulatedTrade] = field(default_factory=list)
    equity: list[tuple[datetime, Decimal]] = field(default_factory=list)
    exposed_candles: int = 0
    candles_walked: int = 0
    notes: dict[str, int] = field(default_factory=dict)
    realised: Decimal = ZERO
    _realised_by_day: dict[date, Decimal] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.period = resolution_delta(self.resolution)

    # -- the walk --------------------------------------------------------------------

    def step(self, bar: Bar, *, window: Sequence[Bar], raw_signal: dict | None) -> None:
        """Candle `bar` has closed: exits within it, then the signal for its close.
        `window` is the lookback the strategy saw (for the ATR fallback); `raw_signal`
        None means no signal at this close (not enough candles, or the strategy failed)."""
        candle_close = bar.open_time + self.period
        self.candles_walked += 1
        if self.open_trades:
            self.exposed_candles += 1
        for trade in list(self.open_trades):
            fill = rules.exit_for_candle(trade.position(), bar)
            if fill is not None:
                price, reason = fill
                if reason == ExitReason.STOP_LOSS:
                    price = self._slipped(price, buying=trade.side == Side.SELL)
                self._close(trade, price, reason, candle_close)
        if raw_signal is not None:
            try:
                signal = parse_signal(raw_signal, last_close=bar.close, band=self.price_band)
            except SignalError:
                self._note("invalid signal")
            else:
                self._act(signal, window, candle_close)
        self.equity.append((candle_close, self.mark(bar.close)))

    def finish(self, bar: Bar) -> None:
        """End of the period: close what is still open at the last close (reason END)."""
        candle_close = bar.open_time + self.period
        for trade in list(self.open_trades):
            price = self._slipped(bar.close, buying=trade.side == Side.SELL)
            self._close(trade, price, END, candle_close)
        if self.equity and self.equity[-1][0] == candle_close:
            self.equity[-1] = (candle_close, self.mark(bar.close))

    def mark(self, price: Decimal) -> Decimal:
        """Equity at `price`: capital, realised PnL (net) and open positions' PnL less
        their entry fees."""
        unrealised = sum(
            (
                rules.pnl(trade.side, trade.quantity, trade.entry_price, price) - trade.fee
                for trade in self.open_trades
            ),
            ZERO,
        )
        return self.settings.capital + self.realised + unrealised

    # -- signal ----------------------------------------------------------------------

    def _act(self, signal: Signal, window: Sequence[Bar], candle_close: datetime) -> None:
        closes = rules.closes_for_signal(signal.action)
        if closes is not None:
            for trade in list(self.open_trades):
                if closes.sides is None or trade.side in closes.sides:
                    price = self._slipped(signal.entry_price, buying=trade.side == Side.SELL)
                    self._close(trade, price, closes.reason, candle_close)
        if signal.action in (Action.BUY, Action.SELL):
            self._open(signal, window, candle_close)

    def _open(self, signal: Signal, window: Sequence[Bar], candle_close: datetime) -> None:
        config = self.settings
        reason = rules.ineligibility_reason(
            is_active=True,
            is_paused=False,
            credential_active=True,
            open_trades=len(self.open_trades),
            max_positions=config.max_positions,
            realised_pnl_today=self._realised_by_day.get(candle_close.date(), ZERO),
            capital=config.capital,
            max_daily_loss=config.max_daily_loss,
        )
        if reason:
            self._note(reason)
            return
        needs_atr = rules.needs_atr(
            signal_stop_loss=signal.stop_loss, signal_take_profit=signal.take_profit
        )
        entry = rules.entry_for_signal(
            side=signal.action,
            entry_price=signal.entry_price,
            signal_stop_loss=signal.stop_loss,
            signal_take_profit=signal.take_profit,
            atr=rules.average_true_range(window) if needs_atr else None,
            capital=config.capital,
            risk_per_trade=config.risk_per_trade,
            leverage=config.leverage,
            sl_atr_multiplier=config.sl_atr_multiplier,
            tp_atr_multiplier=config.tp_atr_multiplier,
        )
        if entry.reason:
            self._note(entry.reason)
            return
        price = self._slipped(signal.entry_price, buying=signal.action == Side.BUY)
        self.open_trades.append(
            SimulatedTrade(
                side=signal.action,
                quantity=entry.quantity,
                entry_time=candle_close,
                entry_price=price,
                stop_loss=entry.stop_loss,
                take_profit=entry.take_profit,
                fee=self._fee(entry.quantity, price),
            )
        )

    # -- fills -----------------------------------------------------------------------

    def _slipped(self, price: Decimal, *, buying: bool) -> Decimal:
        """A market fill: slippage against the trader (a buy pays more, a sell gets less)."""
        slippage = self.settings.slippage
        if not slippage:
            return price
        factor = 1 + slippage if buying else 1 - slippage
        return (price * factor).quantize(rules.PRICE_STEP, rounding=ROUND_HALF_EVEN)

    def _fee(self, quantity: Decimal, price: Decimal) -> Decimal:
        return _money(self.settings.fee_rate * quantity * price)

    def _close(self, trade: SimulatedTrade, price: Decimal, reason: str, when: datetime) -> None:
        trade.fee += self._fee(trade.quantity, price)
        trade.exit_price, trade.exit_reason, trade.exit_time = price, reason, when
        trade.pnl = rules.pnl(trade.side, trade.quantity, trade.entry_price, price) - trade.fee
        self.open_trades.remove(trade)
        self.closed_trades.append(trade)
        self.realised += trade.pnl
        day = when.date()
        self._realised_by_day[day] = self._realised_by_day.get(day, ZERO) + trade.pnl

    def _note(self, reason: str) -> None:
        self.notes[reason] = self.notes.get(reason, 0) + 1
