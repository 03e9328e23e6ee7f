"""Backtests end to end on hand-made candles: the runner, and live-vs-backtest equivalence."""

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command

from backtests.models import Backtest, BacktestTrade
from backtests.replay import backtest_run, equity_curve_points
from backtests.tests.helpers import (
    LOOKBACK,
    RESOLUTION,
    SCRIPT,
    SPECIAL,
    SYMBOL,
    D,
    closes,
    make_candles,
    opened,
    run_backtest,
    scripted_strategy,
)
from executions.models import Trade
from strategies.tests.factories import StrategyFactory
from subscriptions.tests.factories import SubscriptionFactory
from tradeplatform.formatting import iso_utc as z

pytestmark = pytest.mark.django_db


def test_a_known_script_gives_the_known_trades_fees_and_metrics():
    make_candles(10, SPECIAL)
    strategy = scripted_strategy(SCRIPT)
    backtest = run_backtest(strategy, start=closes(2), end=closes(9), fee_rate=D("0.001"))
    assert backtest.status == Backtest.Status.COMPLETED, backtest.error_message
    assert (backtest.progress_done, backtest.progress_total) == (8, 8)
    trades = list(BacktestTrade.objects.filter(backtest=backtest))
    assert [
        (t.side, t.quantity, t.entry_time, t.entry_price, t.exit_time, t.exit_price, t.exit_reason)
        for t in trades
    ] == [
        ("BUY", D(20), closes(2), D(100), closes(3), D(110), "TAKE_PROFIT"),
        ("SELL", D(20), closes(4), D(100), closes(5), D(105), "STOP_LOSS"),
        ("BUY", D(50), closes(6), D(100), closes(8), D(102), "EXIT"),
    ]
    # Fees: 0.1 % of the notional at entry and at exit.
    assert [t.fee for t in trades] == [D("4.2"), D("4.1"), D("10.1")]  # 2+2.2, 2+2.1, 5+5.1
    assert [t.pnl for t in trades] == [D("195.8"), D("-104.1"), D("89.9")]

    metrics = backtest.metrics
    assert metrics["total_trades"] == 3
    assert (metrics["winning_trades"], metrics["losing_trades"]) == (2, 1)
    assert D(metrics["total_return"]) == D("181.6")
    assert D(metrics["final_equity"]) == D("10181.6")
    # Profit factor: (195.8 + 89.9) / 104.1.
    assert D(metrics["profit_factor"]) == (D("285.7") / D("104.1")).quantize(D("0.0001"))
    # Equity per close: 9998, 10195.8, 10193.8, 10091.7, 10086.7, 10086.7, 10181.6, 10181.6.
    # The deepest fall: from 10195.8 (close 3) to 10086.7 (close 6).
    assert D(metrics["max_drawdown"]) == D("109.1")
    expected_pct = (D("109.1") * 100 / D("10195.8")).quantize(D("0.0001"))
    assert D(metrics["max_drawdown_pct"]) == expected_pct
    assert metrics["max_drawdown_peak_time"] == z(closes(3))
    assert metrics["max_drawdown_trough_time"] == z(closes(6))
    assert metrics["exposure_candles"] == 4  # candles 3, 5, 7, 8 start with a position open
    assert metrics["strategy_errors"] == 0
    assert metrics["market_change_pct"] == "0.0000"  # close 100 at both ends
    assert [D(value) for _, value in backtest.equity_curve] == [
        D(v)
        for v in (
            "9998",
            "10195.8",
            "10193.8",
            "10091.7",
            "10086.7",
            "10086.7",
            "10181.6",
            "10181.6",
        )
    ]
    assert backtest.missing_candles_count == 0


def test_missing_candles_are_reported_not_bridged():
    make_candles(10, skip={5, 6})
    strategy = scripted_strategy({})
    backtest = run_backtest(strategy, start=closes(2), end=closes(9))
    # Done, over an incomplete history: the status and the message say so.
    assert backtest.status == Backtest.Status.PARTIAL
    assert backtest.missing_candles_count == 2
    assert backtest.missing_candles == [z(closes(5)), z(closes(6))]
    assert backtest.message.startswith(
        f"Incomplete: 2 of 8 candles of the period are missing (the first closes at "
        f"{z(closes(5))}): the csv market data provider has no such candles in "
    )
    assert "BTCUSDT-60.csv. The figures cover the 6 candles there are." in backtest.message
    assert backtest.progress_total == 6
    assert backtest.metrics["missing_candles"] == 2


def test_a_strategy_reaching_for_the_next_candle_finds_nothing():
    make_candles(10)
    peek = """
def generate_signal(candles, params):
    nxt = candles.close[len(candles)]  # the candle after this close: not there
    return {"action": "BUY", "stopLoss": nxt - 1}
"""
    strategy = StrategyFactory(
        strategy_code=peek,
        execution_config={"symbol": SYMBOL, "resolution": RESOLUTION, "lookbackPeriod": LOOKBACK},
    )
    backtest = run_backtest(strategy, start=closes(2), end=closes(9))
    assert backtest.status == Backtest.Status.COMPLETED
    assert backtest.metrics["total_trades"] == 0
    assert backtest.metrics["strategy_errors"] == 8
    assert "IndexError" in backtest.metrics["strategy_error_examples"][0]


def test_no_candles_fails_with_a_clear_message():
    strategy = scripted_strategy({})
    backtest = run_backtest(strategy, start=closes(2), end=closes(9))
    assert backtest.status == Backtest.Status.FAILED
    assert "no BTCUSDT:60 candles close between" in backtest.error_message
    assert "the csv market data provider has no such candles" in backtest.error_message


def test_a_strategy_failing_the_whole_series_fails_the_backtest():
    make_candles(10)
    strategy = StrategyFactory(
        strategy_code="def generate_signal(candles, params):\n    raise SystemExit(3)\n",
        execution_config={"symbol": SYMBOL, "resolution": RESOLUTION, "lookbackPeriod": LOOKBACK},
    )
    backtest = run_backtest(strategy, start=closes(2), end=closes(9))
    assert backtest.status == Backtest.Status.FAILED
    assert "strategy exited with code 3" in backtest.error_message
    assert backtest.completed_at is not None


def test_a_backtest_is_claimed_once():
    make_candles(10)
    strategy = scripted_strategy({})
    backtest = run_backtest(strategy, start=closes(2), end=closes(9))
    assert backtest_run(backtest_id=backtest.id) is None  # already COMPLETED


def test_equity_curve_is_thinned_but_keeps_the_ends_and_the_low():
    equity = [(opened(n), D(1000 + (n % 7) - (50 if n == 333 else 0))) for n in range(5000)]
    points = equity_curve_points(equity, limit=100)
    assert len(points) <= 102
    assert points[0][0] == z(opened(0)) and points[-1][0] == z(opened(4999))
    assert [z(opened(333)), str(equity[333][1])] in points


# --------------------------------------------------------------------------- live = backtest


def test_live_engine_and_backtest_make_the_same_trades_and_pnl(django_capture_on_commit_callbacks):
    """The same candles and settings through run_candle, close by close (each close's
    paper orders sent by the orders worker after its commit), and through a backtest: the
    same trades (side, quantity, entry, exit, reason) and the same PnL."""
    # 14 more warm-up candles than the other tests: the ATR(14) fallback needs 15.
    w = 14
    special = {
        w + 3: (111, 99, 108),  # take-profit of the first long
        w + 5: (106, 99, 100),  # stop of the short
        w + 8: (103, 99, 102),
        w + 10: (101, 90, 95),  # the ATR-stopped long is stopped out
        w + 13: (104, 100, 103),
    }
    script = {
        w + 2: {"action": "BUY", "stopLoss": 95, "takeProfit": 110},
        w + 4: {"action": "SELL", "stopLoss": 105},
        w + 6: {"action": "BUY", "stopLoss": 98},
        w + 7: {"action": "BUY", "stopLoss": 97},  # max positions 2: a second long
        w + 8: {"action": "EXIT", "entryPrice": 101.5},
        w + 9: {"action": "BUY"},  # the ATR fallback sets its stop and target
        w + 11: {"action": "SELL", "stopLoss": 120, "takeProfit": 80},
        w + 13: {"action": "BUY", "stopLoss": 90, "takeProfit": 150},  # closes the short: SIGNAL
        w + 14: {"action": "EXIT"},
    }
    make_candles(w + 16, special)
    strategy = scripted_strategy(script, lookback=LOOKBACK + w)
    subscription = SubscriptionFactory(
        strategy=strategy,
        capital=D("5000"),
        risk_per_trade=D("0.02"),
        leverage=5,
        max_positions=2,
        max_daily_loss=D("0.5"),
        sl_atr_multiplier=D("1.5"),
        tp_atr_multiplier=D("2"),
    )
    for n in range(w + 2, w + 16):
        with django_capture_on_commit_callbacks(execute=True):
            call_command(
                "run_candle",
                "--symbol",
                SYMBOL,
                "--resolution",
                str(RESOLUTION),
                "--close",
                closes(n).isoformat(),
                stdout=StringIO(),
            )
    live = list(
        Trade.objects.filter(subscription=subscription, status=Trade.Status.CLOSED).order_by(
            "execution__candle_close", "id"
        )
    )
    assert len(live) == 7  # the scenario exercises every kind of exit
    atr_long = live[4]  # stop 1.5 x ATR below the entry, target 2 x ATR above
    assert atr_long.stop_loss < atr_long.entry_price < atr_long.take_profit
    sl_distance = atr_long.entry_price - atr_long.stop_loss
    assert abs((atr_long.take_profit - atr_long.entry_price) * 3 - sl_distance * 4) < D("1e-6")

    backtest = run_backtest(
        strategy,
        start=closes(w + 2),
        end=closes(w + 15),
        capital=D("5000"),
        risk_per_trade=D("0.02"),
        leverage=5,
        max_positions=2,
        max_daily_loss=D("0.5"),
        sl_atr_multiplier=D("1.5"),
        tp_atr_multiplier=D("2"),
    )
    assert backtest.status == Backtest.Status.COMPLETED, backtest.error_message
    simulated = list(BacktestTrade.objects.filter(backtest=backtest).order_by("entry_time", "id"))

    def live_row(trade):
        return (
            trade.side,
            trade.quantity,
            trade.entry_price,
            trade.stop_loss,
            trade.take_profit,
            trade.execution.candle_close,
            trade.closed_at,
            trade.exit_price,
            trade.exit_reason,
            trade.pnl,
        )

    def simulated_row(trade):
        return (
            trade.side,
            trade.quantity,
            trade.entry_price,
            trade.stop_loss,
            trade.take_profit,
            trade.entry_time,
            trade.exit_time,
            trade.exit_price,
            trade.exit_reason,
            trade.pnl,
        )

    assert [simulated_row(t) for t in simulated] == [live_row(t) for t in live]
    assert {t.exit_reason for t in live} == {"TAKE_PROFIT", "STOP_LOSS", "EXIT", "SIGNAL"}
    subscription.refresh_from_db()
    assert D(backtest.metrics["total_return"]) == subscription.total_pnl


def test_reaper_fails_backtests_left_running(settings):
    from backtests.services import stale_backtests_reap
    from backtests.tasks import reap_stale_backtests

    strategy = scripted_strategy({})
    now = datetime(2026, 3, 5, tzinfo=UTC)
    limit = settings.BACKTEST_TIME_LIMIT
    rows = [
        Backtest.objects.create(
            strategy=strategy,
            user=strategy.user,
            symbol=SYMBOL,
            resolution=RESOLUTION,
            start=closes(2),
            end=closes(9),
            status=status,
            started_at=started,
        )
        for status, started in [
            (Backtest.Status.RUNNING, now - timedelta(seconds=limit + 61)),  # lost
            (Backtest.Status.RUNNING, now - timedelta(seconds=limit - 1)),  # still running
            (Backtest.Status.QUEUED, None),
        ]
    ]
    assert stale_backtests_reap(now=now) == 1
    statuses = [Backtest.objects.get(id=row.id).status for row in rows]
    assert statuses == ["FAILED", "RUNNING", "QUEUED"]
    assert "reaped" in Backtest.objects.get(id=rows[0].id).error_message
    # The periodic task (today: the other RUNNING row is stale by now too).
    assert reap_stale_backtests() == 1


def test_soft_time_limit_fails_the_backtest_clearly(monkeypatch):
    from celery.exceptions import SoftTimeLimitExceeded

    from backtests import replay as module

    make_candles(10)
    strategy = scripted_strategy({})

    def slow(*args, **kwargs):
        raise SoftTimeLimitExceeded

    monkeypatch.setattr(module, "run_strategy_series", slow)
    backtest = run_backtest(strategy, start=closes(2), end=closes(9))
    assert backtest.status == Backtest.Status.FAILED
    assert backtest.error_message.startswith("time limit exceeded")
