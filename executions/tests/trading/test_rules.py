from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, localcontext
from decimal import Decimal as D

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from executions.trading.enums import ExitReason, Side
from executions.trading.rules import (
    MONEY_STEP,
    QUANTITY_STEP,
    Position,
    SignalCloses,
    average_true_range,
    closes_for_signal,
    entry_for_signal,
    exit_for_candle,
    ineligibility_reason,
    needs_atr,
    pnl,
    position_size,
    stops_for_entry,
    true_ranges,
)
from marketdata.candles import Bar

OPEN_TIME = datetime(2026, 1, 1, tzinfo=UTC)


def bar(high, low, close, open=None) -> Bar:
    """A candle as the rules read it; it opens at its close unless told otherwise."""
    opening = close if open is None else open
    return Bar(OPEN_TIME, D(str(opening)), D(str(high)), D(str(low)), D(str(close)), D(0))


class TestPositionSize:
    def test_risk_over_stop_distance(self):
        # 10,000 x 1% = 100 at risk; 100 / (100 - 95) = 20 units, notional 2,000 ≤ 100,000.
        quantity = position_size(
            capital=D("10000"),
            risk_per_trade=D("0.01"),
            leverage=10,
            entry_price=D("100"),
            stop_loss=D("95"),
        )
        assert quantity == D("20")

    def test_short_uses_absolute_distance(self):
        quantity = position_size(
            capital=D("10000"),
            risk_per_trade=D("0.02"),
            leverage=10,
            entry_price=D("100"),
            stop_loss=D("104"),
        )
        assert quantity == D("50")

    def test_leverage_caps_the_notional_and_never_multiplies_risk(self):
        # Risk sizing wants 100 / 0.1 = 1,000 units = 100,000 notional; leverage 2 caps it
        # at 20,000 notional = 200 units.
        quantity = position_size(
            capital=D("10000"),
            risk_per_trade=D("0.01"),
            leverage=2,
            entry_price=D("100"),
            stop_loss=D("99.9"),
        )
        assert quantity == D("200")
        # A higher leverage does not make the position larger than the risk allows.
        uncapped = position_size(
            capital=D("10000"),
            risk_per_trade=D("0.01"),
            leverage=125,
            entry_price=D("100"),
            stop_loss=D("99.9"),
        )
        assert uncapped == D("1000")

    def test_stop_out_loses_at_most_capital_times_risk(self):
        capital, risk = D("12345.67"), D("0.013")
        entry, stop = D("42123.45"), D("41777.77")
        quantity = position_size(
            capital=capital, risk_per_trade=risk, leverage=10, entry_price=entry, stop_loss=stop
        )
        assert quantity == D("0.46428404")  # rounded down to 8 places
        loss = -pnl(Side.BUY, quantity, entry, stop)
        assert loss <= capital * risk
        assert capital * risk - loss <= QUANTITY_STEP * (entry - stop)  # under 0.0000035

    def test_no_distance_or_no_capital_gives_zero(self):
        common = {"risk_per_trade": D("0.01"), "leverage": 10, "entry_price": D("100")}
        assert position_size(capital=D("1000"), stop_loss=D("100"), **common) == 0
        assert position_size(capital=D("0"), stop_loss=D("90"), **common) == 0


class TestAtr:
    def test_true_range_uses_previous_close_on_gaps(self):
        ranges = true_ranges([bar(10, 9, 10), bar(13, 12, 12.5), bar(12, 8, 9)])
        assert ranges == [D("3"), D("4.5")]

    def test_wilder_atr_exact(self):
        bars = [bar(101, 99, 100)] * 15  # 14 true ranges of 2
        assert average_true_range(bars) == D("2")
        bars.append(bar(110, 100, 105))  # TR = 10
        assert average_true_range(bars) == D("2.571428571429")  # (2 x 13 + 10) / 14

    def test_too_few_candles(self):
        assert average_true_range([bar(101, 99, 100)] * 14) is None

    def test_fallback_stop_and_target_from_multipliers(self):
        stops = stops_for_entry(
            side=Side.BUY,
            entry_price=D("100"),
            signal_stop_loss=None,
            signal_take_profit=None,
            atr=D("2"),
            sl_atr_multiplier=D("1.5"),
            tp_atr_multiplier=D("3"),
        )
        assert (stops.stop_loss, stops.take_profit) == (D("97"), D("106"))
        short = stops_for_entry(
            side=Side.SELL,
            entry_price=D("100"),
            signal_stop_loss=None,
            signal_take_profit=None,
            atr=D("2"),
            sl_atr_multiplier=D("1.5"),
            tp_atr_multiplier=None,
        )
        assert (short.stop_loss, short.take_profit) == (D("103"), None)

    def test_signal_stop_wins_over_fallback(self):
        stops = stops_for_entry(
            side=Side.BUY,
            entry_price=D("100"),
            signal_stop_loss=D("90"),
            signal_take_profit=None,
            atr=D("2"),
            sl_atr_multiplier=D("1"),
            tp_atr_multiplier=D("2"),
        )
        assert (stops.stop_loss, stops.take_profit) == (D("90"), D("104"))

    def test_neither_signal_stop_nor_multiplier_means_no_trade(self):
        stops = stops_for_entry(
            side=Side.BUY,
            entry_price=D("100"),
            signal_stop_loss=None,
            signal_take_profit=None,
            atr=D("2"),
            sl_atr_multiplier=None,
            tp_atr_multiplier=D("2"),
        )
        assert stops.stop_loss is None
        assert "slAtrMultiplier" in stops.reason


class TestExits:
    long = Position(side=Side.BUY, entry_price=D("100"), stop_loss=D("95"), take_profit=D("110"))
    short = Position(side=Side.SELL, entry_price=D("100"), stop_loss=D("105"), take_profit=D("90"))

    def test_stop_loss(self):
        assert exit_for_candle(self.long, bar(101, 94, 96)) == (D("95"), ExitReason.STOP_LOSS)
        assert exit_for_candle(self.short, bar(105, 99, 104)) == (D("105"), ExitReason.STOP_LOSS)

    def test_take_profit(self):
        assert exit_for_candle(self.long, bar(111, 99, 109)) == (D("110"), ExitReason.TAKE_PROFIT)
        assert exit_for_candle(self.short, bar(101, 90, 91)) == (D("90"), ExitReason.TAKE_PROFIT)

    def test_both_in_one_candle_is_the_stop(self):
        assert exit_for_candle(self.long, bar(120, 80, 100)) == (D("95"), ExitReason.STOP_LOSS)
        assert exit_for_candle(self.short, bar(120, 80, 100)) == (D("105"), ExitReason.STOP_LOSS)

    def test_a_candle_opening_beyond_the_stop_fills_at_the_open(self):
        # A gap below a long's stop: the market was never at 95, the stop fills at 90.
        assert exit_for_candle(self.long, bar(91, 85, 88, open=90)) == (
            D("90"),
            ExitReason.STOP_LOSS,
        )
        assert exit_for_candle(self.short, bar(112, 106, 110, open=108)) == (
            D("108"),
            ExitReason.STOP_LOSS,
        )
        # Opening exactly at the stop fills there, at the open.
        assert exit_for_candle(self.long, bar(99, 94, 96, open=95)) == (
            D("95"),
            ExitReason.STOP_LOSS,
        )

    def test_a_candle_opening_beyond_the_target_fills_at_the_open(self):
        assert exit_for_candle(self.long, bar(115, 90, 114, open=112)) == (
            D("112"),
            ExitReason.TAKE_PROFIT,
        )
        assert exit_for_candle(self.short, bar(89, 85, 86, open=87)) == (
            D("87"),
            ExitReason.TAKE_PROFIT,
        )

    def test_untouched(self):
        assert exit_for_candle(self.long, bar(109, 96, 100)) is None
        no_target = Position(side=Side.BUY, entry_price=D("100"), stop_loss=D("95"))
        assert exit_for_candle(no_target, bar(1000, 96, 900)) is None


def test_pnl_exact():
    assert pnl(Side.BUY, D("0.123456789012"), D("100.5"), D("101.25")) == D("0.09259259")
    assert pnl(Side.SELL, D("2"), D("100"), D("105")) == D("-10.00000000")


class TestEligibility:
    base = {
        "is_active": True,
        "is_paused": False,
        "credential_active": True,
        "open_trades": 0,
        "max_positions": 1,
        "realised_pnl_today": D("0"),
        "capital": D("1000"),
        "max_daily_loss": D("0.05"),
    }

    def test_eligible(self):
        assert ineligibility_reason(**self.base) == ""
        assert ineligibility_reason(**{**self.base, "realised_pnl_today": D("-49.99")}) == ""

    @pytest.mark.parametrize(
        ("change", "reason"),
        [
            ({"is_active": False}, "subscription not active"),
            ({"is_paused": True}, "subscription paused"),
            ({"credential_active": False}, "broker credential inactive"),
            ({"open_trades": 1}, "max open positions reached"),
            ({"realised_pnl_today": D("-50")}, "max daily loss reached"),
        ],
    )
    def test_ineligible(self, change, reason):
        assert ineligibility_reason(**{**self.base, **change}) == reason


class TestEntryForSignal:
    common = {
        "capital": D("10000"),
        "risk_per_trade": D("0.01"),
        "leverage": 10,
        "sl_atr_multiplier": None,
        "tp_atr_multiplier": None,
    }

    def test_sized_with_the_signals_stops(self):
        entry = entry_for_signal(
            side=Side.BUY,
            entry_price=D("100"),
            signal_stop_loss=D("95"),
            signal_take_profit=D("110"),
            atr=None,
            **self.common,
        )
        assert (entry.quantity, entry.stop_loss, entry.take_profit, entry.reason) == (
            D("20"),
            D("95"),
            D("110"),
            "",
        )

    def test_no_stop_no_position(self):
        entry = entry_for_signal(
            side=Side.SELL,
            entry_price=D("100"),
            signal_stop_loss=None,
            signal_take_profit=None,
            atr=D("2"),
            **self.common,
        )
        assert entry.quantity == 0
        assert entry.reason.startswith("no stop-loss")

    def test_size_rounding_to_zero_says_so(self):
        entry = entry_for_signal(
            side=Side.BUY,
            entry_price=D("1e14"),
            signal_stop_loss=D("1"),
            signal_take_profit=None,
            atr=None,
            **{**self.common, "capital": D("0.00000001")},
        )
        assert (entry.quantity, entry.reason) == (0, "position size rounds to zero")


def test_closes_for_signal():
    assert closes_for_signal("EXIT") == SignalCloses(None, "EXIT")
    assert closes_for_signal(Side.BUY) == SignalCloses((Side.SELL,), "SIGNAL")
    assert closes_for_signal(Side.SELL) == SignalCloses((Side.BUY,), "SIGNAL")
    assert closes_for_signal("HOLD") is None
    assert needs_atr(signal_stop_loss=D("1"), signal_take_profit=None)
    assert not needs_atr(signal_stop_loss=D("1"), signal_take_profit=D("2"))


# ------------------------------------------------------------------------- properties


def prices(low="0.01", high="100000"):
    return st.decimals(min_value=D(low), max_value=D(high), places=8)


@settings(max_examples=300, deadline=None)
@given(
    capital=st.decimals(min_value=D("10"), max_value=D("1000000"), places=2),
    risk=st.decimals(min_value=D("0.001"), max_value=D("0.1"), places=3),
    leverage=st.integers(min_value=1, max_value=125),
    entry=prices("1"),
    stop_fraction=st.decimals(min_value=D("0.0001"), max_value=D("0.5"), places=4),
    side=st.sampled_from([Side.BUY, Side.SELL]),
    open_fraction=st.decimals(min_value=D("-0.6"), max_value=D("0.6"), places=4),
)
def test_a_stop_out_loses_capital_times_risk_or_more_when_the_market_opened_beyond_it(
    capital, risk, leverage, entry, stop_fraction, side, open_fraction
):
    """A stop-out loses capital x risk (less only by the rounding down of the quantity, or
    by the leverage cap), or more when the market opened beyond the stop: then exactly
    quantity x the distance from the entry to the open."""
    direction = 1 if side == Side.BUY else -1
    stop = (entry * (1 - direction * stop_fraction)).quantize(D("1e-8"))
    assume(0 < stop != entry)
    quantity = position_size(
        capital=capital, risk_per_trade=risk, leverage=leverage, entry_price=entry, stop_loss=stop
    )
    assume(quantity > 0)
    open_ = (entry * (1 - direction * open_fraction)).quantize(D("1e-8"))
    candle = bar(max(open_, entry) * 2, min(open_, stop) / 2, open_, open=open_)
    fill = exit_for_candle(Position(side, entry, stop), candle)
    assert fill is not None and fill[1] == ExitReason.STOP_LOSS  # the range spans the stop
    price, _ = fill
    loss = -pnl(side, quantity, entry, price)
    gapped = open_ <= stop if side == Side.BUY else open_ >= stop
    if gapped:
        assert price == open_
        with localcontext() as exact:  # the product in full: 16 or more digits each side
            exact.prec = 60
            assert loss == (quantity * abs(entry - open_)).quantize(MONEY_STEP, ROUND_HALF_EVEN)
        assert loss >= -pnl(side, quantity, entry, stop)
    else:
        assert price == stop
        assert loss <= capital * risk
        capped = quantity * entry > capital * leverage - QUANTITY_STEP * entry * 2
        if not capped:  # only the rounding down of the quantity (and of the PnL) is kept
            assert capital * risk - loss <= QUANTITY_STEP * abs(entry - stop) + MONEY_STEP


@settings(max_examples=200, deadline=None)
@given(
    entry=prices("1"),
    side=st.sampled_from([Side.BUY, Side.SELL]),
    levels=st.lists(prices(), min_size=4, max_size=4),
)
def test_an_exit_fills_within_the_candle_or_at_its_open(entry, side, levels):
    """Whatever the candle, an exit fills at the stop, the target or the open, within the
    candle's range; at the open only when the candle opened beyond that level."""
    low, a, b, high = sorted(levels)
    open_ = a
    direction = 1 if side == Side.BUY else -1
    stop = entry - direction * entry / 10
    target = entry + direction * entry / 10
    fill = exit_for_candle(
        Position(side, entry, stop, target), Bar(OPEN_TIME, open_, high, low, b, D(0))
    )
    assume(fill is not None)
    price, reason = fill
    assert low <= price <= high
    assert price in (stop, target, open_)
    if price == open_ and open_ not in (stop, target):
        beyond_stop = open_ < stop if side == Side.BUY else open_ > stop
        beyond_target = open_ > target if side == Side.BUY else open_ < target
        assert (reason == ExitReason.STOP_LOSS and beyond_stop) or (
            reason == ExitReason.TAKE_PROFIT and beyond_target
        )


def test_atr_stops_round_half_even_whatever_ccxt_left_in_the_thread():
    """ccxt's decimal_to_precision sets its thread's decimal context to half-up for good:
    a stop derived in such a thread (a worker that fetched candles through ccxt) must round
    as the backtest does, half-even, to PRICE_STEP."""
    import decimal

    def stops():
        return stops_for_entry(
            side=Side.BUY,
            entry_price=D("100.00000003"),
            signal_stop_loss=None,
            signal_take_profit=None,
            atr=D("0.00000001"),
            sl_atr_multiplier=D("0.5"),
            tp_atr_multiplier=D("0.5"),
        )

    with decimal.localcontext() as context:
        context.rounding = decimal.ROUND_HALF_UP  # what ccxt leaves behind
        in_a_ccxt_thread = stops()
    assert (in_a_ccxt_thread.stop_loss, in_a_ccxt_thread.take_profit) == (
        D("100.00000002"),  # 100.000000025, half to even
        D("100.00000004"),  # 100.000000035
    )
    assert in_a_ccxt_thread == stops()
