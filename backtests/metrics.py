"""Performance metrics of a backtest: pure functions over closed trades and an equity series.

No ORM, no clock. Money is Decimal (stored as strings in the JSON column, rendered as JSON
numbers by the API); Sharpe and Sortino are floats, being statistics of returns, not money.

Conventions (written down because every platform picks its own):

- A win is a trade whose net PnL (after fees) is > 0, a loss < 0; a break-even trade is
  neither, but it counts in the number of trades and in the expectancy.
- ``win_rate`` is a fraction 0-1 (as the subscription stats); ``*_pct`` figures are percent.
- ``profit_factor`` = gross profit / gross loss; None when there is no losing trade.
- ``expectancy`` = mean net PnL per trade.
- Max drawdown is the largest fall of the equity curve from a running peak, as an amount,
  as a percent of that peak, with the peak's and the trough's times.
- Sharpe and Sortino use the simple return of equity from one candle close to the next,
  a risk-free rate of 0, and are annualised by sqrt(periods per year), where a year is
  365 days of the resolution's candles (crypto markets trade around the clock). Sharpe
  uses the sample standard deviation; Sortino the downside deviation
  sqrt(mean(min(r, 0)^2)) over all periods. None when the deviation is 0.
- Streaks are runs of consecutive wins (losses) in the order trades closed; a break-even
  trade ends both.
- Exposure is the share of candles during which at least one position was open.
- The market's change is (last close - first close) / first close over the period: what
  holding the asset would have returned, for comparison.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from itertools import pairwise

from executions.trading.rules import MONEY_STEP
from tradeplatform.formatting import iso_utc, money_text, percent_text

ZERO = Decimal(0)
PCT_STEP = Decimal("1e-4")
MINUTES_PER_YEAR = 365 * 24 * 60

# Keys of the metrics dict whose values are Decimal strings (money or percents).
DECIMAL_KEYS = frozenset(
    {
        "initial_capital",
        "final_equity",
        "total_return",
        "total_return_pct",
        "gross_profit",
        "gross_loss",
        "total_fees",
        "profit_factor",
        "expectancy",
        "average_win",
        "average_loss",
        "max_drawdown",
        "max_drawdown_pct",
        "exposure_pct",
        "market_change_pct",
    }
)


@dataclass(frozen=True)
class ClosedTrade:
    """What the metrics need of a closed trade."""

    exit_time: datetime
    pnl: Decimal  # net of fees
    fee: Decimal = ZERO


@dataclass(frozen=True)
class Drawdown:
    amount: Decimal
    pct: Decimal
    peak_time: datetime | None
    trough_time: datetime | None


def periods_per_year(resolution: int) -> int:
    return MINUTES_PER_YEAR // int(resolution)


def _money(value: Decimal) -> Decimal:
    return value.quantize(MONEY_STEP, rounding=ROUND_HALF_EVEN)


def _pct(part: Decimal, whole: Decimal) -> Decimal:
    if whole == 0:
        return ZERO
    return (part * 100 / whole).quantize(PCT_STEP, rounding=ROUND_HALF_EVEN)


def max_drawdown(equity: Sequence[tuple[datetime, Decimal]]) -> Drawdown:
    """The largest peak-to-trough fall of `equity` (oldest first)."""
    best = Drawdown(ZERO, ZERO, None, None)
    peak_time, peak = None, None
    for moment, value in equity:
        if peak is None or value > peak:
            peak_time, peak = moment, value
            continue
        fall = peak - value
        if fall > best.amount:
            best = Drawdown(_money(fall), _pct(fall, peak), peak_time, moment)
    return best


def period_returns(equity: Sequence[tuple[datetime, Decimal]]) -> list[float]:
    """Simple returns from each point of the curve to the next."""
    values = [value for _, value in equity]
    return [float(current / previous - 1) for previous, current in pairwise(values) if previous > 0]


def sharpe_ratio(returns: Sequence[float], periods: int) -> float | None:
    if len(returns) < 2:
        return None
    mean = sum(returns) / len(returns)
    variance = sum((r - mean) ** 2 for r in returns) / (len(returns) - 1)
    if variance <= 0:
        return None
    return mean / math.sqrt(variance) * math.sqrt(periods)


def sortino_ratio(returns: Sequence[float], periods: int) -> float | None:
    if not returns:
        return None
    mean = sum(returns) / len(returns)
    downside = math.sqrt(sum(min(r, 0.0) ** 2 for r in returns) / len(returns))
    if downside <= 0:
        return None
    return mean / downside * math.sqrt(periods)


def streaks(pnls: Sequence[Decimal]) -> tuple[int, int]:
    """(longest run of wins, longest run of losses)."""
    longest_win = longest_loss = win = loss = 0
    for value in pnls:
        win = win + 1 if value > 0 else 0
        loss = loss + 1 if value < 0 else 0
        longest_win, longest_loss = max(longest_win, win), max(longest_loss, loss)
    return longest_win, longest_loss


def backtest_metrics(
    *,
    trades: Sequence[ClosedTrade],
    equity: Sequence[tuple[datetime, Decimal]],
    capital: Decimal,
    resolution: int,
    exposed_candles: int,
    total_candles: int,
    first_close: Decimal | None,
    last_close: Decimal | None,
) -> dict:
    """Every metric of a finished backtest as a plain dict (Decimals, floats, ints, times);
    `metrics_to_json` makes it storable."""
    ordered = sorted(trades, key=lambda trade: trade.exit_time)
    pnls = [trade.pnl for trade in ordered]
    wins = [value for value in pnls if value > 0]
    losses = [value for value in pnls if value < 0]
    gross_profit = sum(wins, ZERO)
    gross_loss = -sum(losses, ZERO)
    total_return = sum(pnls, ZERO)
    final_equity = equity[-1][1] if equity else capital
    drawdown = max_drawdown(equity)
    returns = period_returns(equity)
    periods = periods_per_year(resolution)
    sharpe = sharpe_ratio(returns, periods)
    sortino = sortino_ratio(returns, periods)
    longest_win, longest_loss = streaks(pnls)
    market_change = None
    if first_close and last_close is not None:
        market_change = _pct(last_close - first_close, first_close)
    return {
        "total_trades": len(pnls),
        "winning_trades": len(wins),
        "losing_trades": len(losses),
        "win_rate": len(wins) / len(pnls) if pnls else 0.0,
        "initial_capital": _money(capital),
        "final_equity": _money(final_equity),
        "total_return": _money(total_return),
        "total_return_pct": _pct(total_return, capital),
        "gross_profit": _money(gross_profit),
        "gross_loss": _money(gross_loss),
        "total_fees": _money(sum((trade.fee for trade in ordered), ZERO)),
        "profit_factor": (
            (gross_profit / gross_loss).quantize(PCT_STEP, rounding=ROUND_HALF_EVEN)
            if gross_loss > 0
            else None
        ),
        "expectancy": _money(total_return / len(pnls)) if pnls else ZERO,
        "average_win": _money(gross_profit / len(wins)) if wins else ZERO,
        "average_loss": _money(-gross_loss / len(losses)) if losses else ZERO,
        "max_drawdown": drawdown.amount,
        "max_drawdown_pct": drawdown.pct,
        "max_drawdown_peak_time": drawdown.peak_time,
        "max_drawdown_trough_time": drawdown.trough_time,
        "sharpe_ratio": None if sharpe is None else round(sharpe, 4),
        "sortino_ratio": None if sortino is None else round(sortino, 4),
        "longest_winning_streak": longest_win,
        "longest_losing_streak": longest_loss,
        "exposure_candles": exposed_candles,
        "exposure_pct": _pct(Decimal(exposed_candles), Decimal(total_candles)),
        "market_change_pct": market_change,
    }


def metrics_to_json(metrics: dict) -> dict:
    """Decimals as exact strings, times as ISO 8601: what the JSON column stores."""
    stored = {}
    for key, value in metrics.items():
        if isinstance(value, Decimal):
            value = str(value)
        elif isinstance(value, datetime):
            value = iso_utc(value)
        stored[key] = value
    return stored


def metrics_from_json(stored: dict | None) -> dict | None:
    """The stored metrics with the money back as Decimal (the API renders JSON numbers)."""
    if stored is None:
        return None
    return {
        key: Decimal(value) if key in DECIMAL_KEYS and value is not None else value
        for key, value in stored.items()
    }


# (metric key, label) in the order the table prints them.
METRIC_LABELS = (
    ("candles", "candles"),
    ("missing_candles", "missing candles"),
    ("total_trades", "trades"),
    ("winning_trades", "wins"),
    ("losing_trades", "losses"),
    ("win_rate", "win rate"),
    ("initial_capital", "initial capital"),
    ("final_equity", "final equity"),
    ("total_return", "total return"),
    ("total_return_pct", "total return %"),
    ("market_change_pct", "market change %"),
    ("gross_profit", "gross profit"),
    ("gross_loss", "gross loss"),
    ("total_fees", "fees"),
    ("profit_factor", "profit factor"),
    ("expectancy", "expectancy"),
    ("average_win", "average win"),
    ("average_loss", "average loss"),
    ("max_drawdown", "max drawdown"),
    ("max_drawdown_pct", "max drawdown %"),
    ("max_drawdown_peak_time", "drawdown peak"),
    ("max_drawdown_trough_time", "drawdown trough"),
    ("sharpe_ratio", "Sharpe (annualised)"),
    ("sortino_ratio", "Sortino (annualised)"),
    ("longest_winning_streak", "longest winning streak"),
    ("longest_losing_streak", "longest losing streak"),
    ("exposure_pct", "exposure %"),
    ("exposure_minutes", "exposure (minutes)"),
    ("strategy_errors", "strategy errors"),
)


MONEY_KEYS = frozenset(
    {
        "initial_capital",
        "final_equity",
        "total_return",
        "gross_profit",
        "gross_loss",
        "total_fees",
        "expectancy",
        "average_win",
        "average_loss",
        "max_drawdown",
    }
)


def metrics_summary(metrics: dict, *, symbol: str, resolution: int) -> str:
    """One sentence a person reads first: `1,440 BTCUSDT 5m candles: 12 trades, 58.33% won,
    return 321.45 (3.21%), max drawdown 2.1%, Sharpe 1.23 (market -0.5%).`"""

    def pct(key: str) -> str:
        value = metrics.get(key)
        if value is None:
            return "-"
        shown = Decimal(str(value)).quantize(Decimal("0.01"), ROUND_HALF_EVEN).normalize()
        return f"{shown:f}%"

    sharpe = metrics.get("sharpe_ratio")
    return (
        f"{metrics.get('candles', 0):,} {symbol} {resolution}m candles: "
        f"{metrics.get('total_trades', 0)} trades, "
        f"{percent_text(metrics.get('win_rate')) if metrics.get('total_trades') else '-'} won, "
        f"return {money_text(metrics.get('total_return'))} ({pct('total_return_pct')}), "
        f"max drawdown {pct('max_drawdown_pct')}, "
        f"Sharpe {'-' if sharpe is None else f'{sharpe:.2f}'} "
        f"(market {pct('market_change_pct')})."
    )


def metrics_rows(metrics: dict) -> list[tuple[str, str]]:
    """(label, shown value) per metric, in reading order: the command's table, the admin's."""
    rows = []
    for key, label in METRIC_LABELS:
        if key not in metrics:
            continue
        value = metrics[key]
        if value is None:
            shown = "-"
        elif key == "win_rate":
            shown = f"{value:.2%}"
        elif key in MONEY_KEYS:
            shown = money_text(value)
        elif key == "profit_factor" or key.endswith("_pct"):
            shown = f"{Decimal(str(value)).quantize(Decimal('0.01'), ROUND_HALF_EVEN):f}"
        elif isinstance(value, float):
            shown = f"{value:.4f}"
        else:
            shown = str(value)
        rows.append((label, shown))
    return rows
