"""The equity curve of a backtest as an SVG chart: the admin shows it, the API serves it to
the backtest's user (GET …/backtests/:id/equity.svg)."""

from tradeplatform.svg import line_chart

from .models import Backtest


def backtest_equity_svg(backtest: Backtest) -> str:
    """A self-contained SVG; every text in it is escaped by `line_chart`."""
    points = [(moment[:16].replace("T", " "), value) for moment, value in backtest.equity_curve]
    capital = backtest.params.get("capital")
    return line_chart(
        points,
        title=f"Equity of {backtest.symbol} {backtest.resolution}m (dashed: the starting capital)",
        baseline=float(capital) if capital is not None else None,
        empty_message="No equity curve yet",
    )
