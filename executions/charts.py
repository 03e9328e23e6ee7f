"""The equity curve of a backtest as inline SVG for the admin: no JavaScript, no CDN.

Written here because no shared chart helper existed on main when backtests were built
(branch `ops` has `tradeplatform/svg.py`; once it lands, this can draw with it). Every
text is escaped; coordinates are floats (drawing only, the values shown are the stored
Decimals' text).
"""

from collections.abc import Sequence
from html import escape

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 84, 12, 24, 30


def equity_curve_svg(points: Sequence[Sequence[str]], *, title: str = "Equity") -> str:
    """`points`: [[ISO time, equity], …] oldest first (Backtest.equity_curve)."""
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>"
    )
    text = 'font-family="system-ui, sans-serif" font-size="11" fill="currentColor"'
    if len(points) < 2:
        return (
            f'{head}<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" {text}>'
            "No equity curve yet</text></svg>"
        )
    values = [float(value) for _, value in points]
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(index: int) -> float:
        return LEFT + inner_w * index / (len(points) - 1)

    def y(value: float) -> float:
        return TOP + inner_h * (1 - (value - low) / span)

    line = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
    start = values[0]
    colour = "#16a34a" if values[-1] >= start else "#dc2626"
    parts = [
        head,
        f'<text x="{LEFT}" y="14" {text} font-weight="bold">{escape(title)}</text>',
        # The starting capital as a dashed baseline.
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(start):.1f}" y2="{y(start):.1f}" '
        'stroke="#9ca3af" stroke-dasharray="4 3"/>',
        f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{line}"/>',
        f'<text x="{LEFT - 6}" y="{TOP + 4}" text-anchor="end" {text}>{high:,.2f}</text>',
        f'<text x="{LEFT - 6}" y="{TOP + inner_h + 4}" text-anchor="end" {text}>{low:,.2f}</text>',
        f'<text x="{LEFT}" y="{HEIGHT - 10}" {text}>{escape(points[0][0][:16])}</text>',
        f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - 10}" text-anchor="end" {text}>'
        f"{escape(points[-1][0][:16])}</text>",
        "</svg>",
    ]
    return "".join(parts)
