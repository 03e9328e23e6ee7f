"""The backtest's book on hand-made candles: trades, fills, fees and PnL worked out here."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from backtests.replay import BacktestSettings, Simulation
from marketdata.candles import Bar

D = Decimal
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def bar(n: int, high, low, close, open_=None) -> Bar:
    return Bar(
        T0 + HOUR * n, D(str(open_ or close)), D(str(high)), D(str(low)), D(str(close)), D(1)
    )


def candle_close(n: int) -> datetime:
    return T0 + HOUR * (n + 1)


def settings(**overrides) -> BacktestSettings:
    values = {"capital": D("10000"), "risk_per_trade": D("0.01"), "leverage": 10}
    values.update(overrides)
    return BacktestSettings(**values)


def walk(config: BacktestSettings, steps) -> Simulation:
    """steps: (bar, raw signal or None); the window is every bar so far."""
    simulation = Simulation(config, 60)
    bars = []
    for candle, signal in steps:
        bars.append(candle)
        simulation.step(candle, window=bars[-20:], raw_signal=signal)
    simulation.finish(bars[-1])
    return simulation


BUY = {"action": "BUY", "stopLoss": 95, "takeProfit": 110}


def test_buy_then_take_profit_with_fees():
    # Risk 100 over a 5-point stop: 20 units (notional 2,000 is under 10x capital).
    simulation = walk(
        settings(fee_rate=D("0.001")),
        [(bar(0, 101, 99, 100), BUY), (bar(1, 111, 99, 108), None), (bar(2, 109, 107, 108), None)],
    )
    (trade,) = simulation.closed_trades
    assert (trade.side, trade.quantity, trade.entry_price) == ("BUY", D(20), D(100))
    assert (trade.exit_price, trade.exit_reason) == (D(110), "TAKE_PROFIT")
    assert (trade.entry_time, trade.exit_time) == (candle_close(0), candle_close(1))
    # Fees 0.1 % of 2,000 and of 2,200; PnL 10 x 20 = 200 gross.
    assert trade.fee == D("4.2")
    assert trade.pnl == D("195.8")
    assert simulation.equity[-1][1] == D("10195.8")


def test_a_candle_touching_stop_and_target_fills_the_stop():
    simulation = walk(settings(), [(bar(0, 101, 99, 100), BUY), (bar(1, 111, 94, 100), None)])
    (trade,) = simulation.closed_trades
    assert (trade.exit_price, trade.exit_reason, trade.pnl) == (D(95), "STOP_LOSS", D(-100))


def test_a_gap_beyond_the_stop_fills_at_the_open_and_loses_more_than_the_risk():
    # 20 units at 100, stop 95: the next candle opens at 90, so the stop fills at 90.
    simulation = walk(settings(), [(bar(0, 101, 99, 100), BUY), (bar(1, 92, 88, 91, 90), None)])
    (trade,) = simulation.closed_trades
    assert (trade.exit_price, trade.exit_reason, trade.pnl) == (D(90), "STOP_LOSS", D(-200))


def test_a_gap_beyond_the_target_fills_at_the_open():
    simulation = walk(settings(), [(bar(0, 101, 99, 100), BUY), (bar(1, 115, 111, 113, 112), None)])
    (trade,) = simulation.closed_trades
    assert (trade.exit_price, trade.exit_reason, trade.pnl) == (D(112), "TAKE_PROFIT", D(240))


def test_the_signal_candle_itself_never_fills_the_new_position():
    # The entry candle's low (90) is below the stop: the position opened at its close.
    simulation = walk(settings(), [(bar(0, 101, 90, 100), BUY), (bar(1, 102, 98, 101), None)])
    (trade,) = simulation.closed_trades
    assert trade.exit_reason == "END"
    assert trade.exit_price == D(101)


def test_slippage_against_the_trader_on_market_fills_only():
    config = settings(slippage=D("0.01"))
    stopped = walk(config, [(bar(0, 101, 99, 100), BUY), (bar(1, 100, 90, 92, open_=100), None)])
    (trade,) = stopped.closed_trades
    # Sized on the signal's 100 (20 units), filled at 101; the stop fills at 95 x 0.99.
    assert (trade.quantity, trade.entry_price, trade.exit_price) == (D(20), D(101), D("94.05"))
    assert trade.pnl == D("-139")  # (94.05 - 101) x 20
    target = walk(config, [(bar(0, 101, 99, 100), BUY), (bar(1, 112, 100, 111, 100), None)])
    (trade,) = target.closed_trades
    assert (trade.exit_price, trade.pnl) == (D(110), D(180))  # a limit fill: no slippage


def test_opposite_signal_closes_at_the_entry_price_then_reverses():
    sell = {"action": "SELL", "stopLoss": 108}
    simulation = walk(
        settings(),
        [
            (bar(0, 101, 99, 100), BUY),
            (bar(1, 104, 97, 103), sell),
            (bar(2, 109, 102, 107), None),
        ],
    )
    first, second = simulation.closed_trades
    assert (first.side, first.exit_price, first.exit_reason, first.pnl) == (
        "BUY",
        D(103),
        "SIGNAL",
        D(60),
    )
    assert (second.side, second.quantity, second.entry_price, second.take_profit) == (
        "SELL",
        D(20),
        D(103),
        None,
    )
    assert (second.exit_price, second.exit_reason, second.pnl) == (D(108), "STOP_LOSS", D(-100))
    assert second.exit_time == candle_close(2)


def test_exit_signal_closes_everything_at_the_close():
    simulation = walk(
        settings(max_positions=2),
        [
            (bar(0, 101, 99, 100), BUY),
            (bar(1, 102, 99, 101), BUY),
            (bar(2, 103, 100, 102), {"action": "EXIT"}),
        ],
    )
    assert [(t.exit_reason, t.exit_price) for t in simulation.closed_trades] == [
        ("EXIT", D(102)),
        ("EXIT", D(102)),
    ]
    # 20 units x 2; then 100 / 6 = 16.66666666 units (rounded down to 8 places) x 1, exactly.
    assert [t.pnl for t in simulation.closed_trades] == [D(40), D("16.66666666")]


def test_max_positions_and_the_reason_is_counted():
    simulation = walk(
        settings(max_positions=1),
        [(bar(0, 101, 99, 100), BUY), (bar(1, 102, 99, 101), BUY), (bar(2, 102, 99, 101), None)],
    )
    assert len(simulation.closed_trades) == 1
    assert simulation.notes == {"max open positions reached": 1}


def test_max_daily_loss_blocks_the_rest_of_the_utc_day():
    # 1 % daily loss cap = 100: one stop-out (-100) reaches it.
    config = settings(max_daily_loss=D("0.01"))
    late = datetime(2026, 3, 2, 21, 0, tzinfo=UTC)
    simulation = Simulation(config, 60)
    bars = [
        Bar(late, D(100), D(101), D(99), D(100), D(1)),  # closes 22:00: BUY
        Bar(late + HOUR, D(100), D(100), D(94), D(96), D(1)),  # 23:00: stopped, BUY refused
        Bar(late + 2 * HOUR, D(100), D(101), D(99), D(100), D(1)),  # 00:00 next day: BUY ok
    ]
    for candle, signal in zip(bars, [BUY, BUY, BUY], strict=True):
        simulation.step(candle, window=bars, raw_signal=signal)
    assert simulation.notes == {"max daily loss reached": 1}
    assert [t.exit_reason for t in simulation.closed_trades] == ["STOP_LOSS"]
    assert len(simulation.open_trades) == 1
    assert simulation.open_trades[0].entry_time == datetime(2026, 3, 3, tzinfo=UTC)


def test_atr_fallback_for_missing_stops():
    # Flat candles (high 101, low 99, close 100): ATR(14) = 2; stop 2 x ATR, target 3 x ATR.
    config = settings(sl_atr_multiplier=D(2), tp_atr_multiplier=D(3))
    steps = [(bar(n, 101, 99, 100), None) for n in range(15)] + [
        (bar(15, 101, 99, 100), {"action": "BUY"})
    ]
    simulation = walk(config, steps)
    (trade,) = simulation.closed_trades
    assert (trade.stop_loss, trade.take_profit) == (D(96), D(106))
    assert trade.quantity == D(25)  # 100 / 4


def test_a_buy_without_any_stop_is_not_traded():
    simulation = walk(settings(), [(bar(0, 101, 99, 100), {"action": "BUY"})])
    assert simulation.closed_trades == []
    assert list(simulation.notes) == [
        "no stop-loss: the signal has none and slAtrMultiplier is unset"
    ]


def test_invalid_signal_is_counted_not_traded():
    simulation = walk(settings(), [(bar(0, 101, 99, 100), {"action": "BUY", "stopLoss": 120})])
    assert simulation.closed_trades == []
    assert simulation.notes == {"invalid signal": 1}


def test_equity_is_marked_to_market_every_close_and_exposure_counted():
    simulation = walk(
        settings(fee_rate=D("0.001")),
        [(bar(0, 101, 99, 100), BUY), (bar(1, 103, 99, 102), None), (bar(2, 104, 101, 103), None)],
    )
    # After the entry: 10000 - 2 (fee); then +2 x 20 = 40 open PnL; the END close at 103.
    assert [value for _, value in simulation.equity] == [D("9998"), D("10038"), D("10055.94")]
    assert simulation.exposed_candles == 2
    (trade,) = simulation.closed_trades
    assert trade.pnl == D("55.94")  # 60 - 2 - 2.06


def test_no_number_of_the_strategy_prices_or_sizes_a_backtest_trade():
    """Live's rule: the close prices and sizes the entry, whatever `entryPrice` says, and a
    stop far from the close makes the signal invalid (issue 12's attack: entryPrice 1,
    stopLoss 0.5)."""
    attack = {"action": "BUY", "entryPrice": 1.0, "stopLoss": 0.5}
    refused = walk(settings(), [(bar(0, 101, 99, 100), attack)])
    assert (refused.closed_trades, refused.notes) == ([], {"invalid signal": 1})
    invented = {"action": "BUY", "entryPrice": 1.0, "stopLoss": 95}
    traded = walk(settings(), [(bar(0, 101, 99, 100), invented), (bar(1, 101, 99, 100), None)])
    (trade,) = traded.closed_trades
    # 100 at risk over 100 - 95: 20 units at the close, 100; never 100 / 0.5 at 1.
    assert (trade.quantity, trade.entry_price) == (D(20), D(100))


def test_the_price_band_is_the_simulations_setting():
    far = {"action": "BUY", "stopLoss": 80}  # 20 % under the close
    narrow = Simulation(settings(), 60, price_band=D("0.1"))
    narrow.step(bar(0, 101, 99, 100), window=[], raw_signal=far)
    assert (narrow.open_trades, narrow.notes) == ([], {"invalid signal": 1})
    default = Simulation(settings(), 60)
    default.step(bar(0, 101, 99, 100), window=[], raw_signal=far)
    assert len(default.open_trades) == 1
