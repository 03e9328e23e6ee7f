"""Metrics against figures worked out by hand."""

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from backtests.metrics import (
    ClosedTrade,
    backtest_metrics,
    max_drawdown,
    metrics_from_json,
    metrics_to_json,
    periods_per_year,
    sharpe_ratio,
    sortino_ratio,
    streaks,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
D = Decimal


def at(days: int) -> datetime:
    return T0 + timedelta(days=days)


def curve(*values) -> list[tuple[datetime, Decimal]]:
    return [(at(n), D(str(value))) for n, value in enumerate(values)]


def test_max_drawdown_is_the_largest_fall_from_a_running_peak():
    # Falls: 1200 -> 900 (300, 25 %), then 1300 -> 950 (350, 26.9231 %): the second.
    drawdown = max_drawdown(curve(1000, 1200, 900, 1300, 950))
    assert drawdown.amount == D("350")
    assert drawdown.pct == D("26.9231")  # 350 / 1300 = 0.269230769...
    assert (drawdown.peak_time, drawdown.trough_time) == (at(3), at(4))


def test_max_drawdown_of_a_rising_curve_is_zero():
    drawdown = max_drawdown(curve(100, 101, 102))
    assert (drawdown.amount, drawdown.peak_time, drawdown.trough_time) == (D(0), None, None)


def test_sharpe_and_sortino_annualised_by_the_resolution():
    # Equity 100 -> 110 -> 99 -> 108.9: returns +10 %, -10 %, +10 %.
    # mean = 1/30; sample variance = ((2/30)^2 * 2 + (4/30)^2) / 2 = 1/75;
    # downside deviation = sqrt(0.1^2 / 3) = sqrt(1/300). Daily candles: 365 a year.
    returns = [0.1, -0.1, 0.1]
    periods = periods_per_year(1440)
    assert periods == 365
    assert sharpe_ratio(returns, periods) == pytest.approx(
        (1 / 30) / math.sqrt(1 / 75) * math.sqrt(365)
    )
    assert sortino_ratio(returns, periods) == pytest.approx(
        (1 / 30) / math.sqrt(1 / 300) * math.sqrt(365)
    )
    assert periods_per_year(1) == 525_600


def test_ratios_are_none_without_dispersion():
    assert sharpe_ratio([0.01, 0.01, 0.01], 365) is None
    assert sortino_ratio([0.01, 0.02], 365) is None  # no losing period


def test_streaks_break_on_break_even():
    assert streaks([D(1), D(2), D(-1), D(0), D(-1), D(-2), D(-3), D(5)]) == (2, 3)


def test_backtest_metrics_by_hand():
    pnls = ["100", "-50", "30", "-20", "-10", "0"]
    trades = [ClosedTrade(exit_time=at(n + 1), pnl=D(p), fee=D("1.5")) for n, p in enumerate(pnls)]
    equity = curve(1000, 1100, 1050, 1080, 1060, 1050, 1050)
    metrics = backtest_metrics(
        trades=trades,
        equity=equity,
        capital=D("1000"),
        resolution=1440,
        exposed_candles=3,
        total_candles=7,
        first_close=D("200"),
        last_close=D("230"),
    )
    assert metrics["total_trades"] == 6
    assert (metrics["winning_trades"], metrics["losing_trades"]) == (2, 3)
    assert metrics["win_rate"] == pytest.approx(1 / 3)
    assert metrics["gross_profit"] == D("130")
    assert metrics["gross_loss"] == D("80")
    assert metrics["profit_factor"] == D("1.625")  # 130 / 80
    assert metrics["total_return"] == D("50")
    assert metrics["total_return_pct"] == D("5")  # 50 / 1000
    assert metrics["final_equity"] == D("1050")
    assert metrics["expectancy"] == D("8.33333333")  # 50 / 6
    assert metrics["average_win"] == D("65")
    assert metrics["average_loss"] == D("-26.66666667")
    assert metrics["total_fees"] == D("9")
    assert metrics["max_drawdown"] == D("50")  # 1100 -> 1050
    assert metrics["max_drawdown_pct"] == D("4.5455")  # 50 / 1100
    assert metrics["max_drawdown_peak_time"] == at(1)
    assert metrics["max_drawdown_trough_time"] == at(2)
    assert (metrics["longest_winning_streak"], metrics["longest_losing_streak"]) == (1, 2)
    assert metrics["exposure_pct"] == D("42.8571")  # 3 of 7 candles
    assert metrics["market_change_pct"] == D("15")  # 200 -> 230


def test_no_trades():
    metrics = backtest_metrics(
        trades=[],
        equity=curve(1000, 1000),
        capital=D("1000"),
        resolution=60,
        exposed_candles=0,
        total_candles=2,
        first_close=D("10"),
        last_close=D("9"),
    )
    assert metrics["total_trades"] == 0
    assert metrics["win_rate"] == 0.0
    assert metrics["profit_factor"] is None
    assert metrics["expectancy"] == D(0)
    assert metrics["sharpe_ratio"] is None
    assert metrics["market_change_pct"] == D("-10")


def test_json_round_trip_keeps_money_exact():
    metrics = {
        "total_return": D("0.10000001"),
        "sharpe_ratio": 1.5,
        "max_drawdown_peak_time": at(1),
    }
    stored = metrics_to_json(metrics)
    assert stored == {
        "total_return": "0.10000001",
        "sharpe_ratio": 1.5,
        "max_drawdown_peak_time": at(1).isoformat().replace("+00:00", "Z"),
    }
    assert metrics_from_json(stored)["total_return"] == D("0.10000001")
