"""Small server-side charts as inline SVG: no JavaScript, nothing from a CDN.

Pure functions from numbers and labels to an SVG string; every label is escaped, so the
result may be marked safe and put straight into a page. Coordinates are floats (drawing
only); the values themselves are shown as the caller formats them.
"""

from collections.abc import Sequence
from html import escape

WIDTH = 720
HEIGHT = 260
MARGIN_LEFT = 72
MARGIN_RIGHT = 16
MARGIN_TOP = 28
MARGIN_BOTTOM = 36
FONT = 'font-family="system-ui, sans-serif" font-size="11"'
# Text takes the page's colour, so the chart reads in the admin's dark theme too.
TEXT = f'{FONT} fill="currentColor"'

STATUS_COLOURS = {
    "COMPLETED": "#16a34a",
    "SKIPPED": "#a3a3a3",
    "FAILED": "#dc2626",
    "RUNNING": "#2563eb",
}
_FALLBACK_COLOURS = ("#2563eb", "#9333ea", "#ea580c", "#0891b2")


def _frame(title: str, body: list[str], *, width: int, height: int) -> str:
    return "".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
            f"<title>{escape(title)}</title>",
            f'<text x="{MARGIN_LEFT}" y="16" {TEXT} font-weight="bold">{escape(title)}</text>',
            *body,
            "</svg>",
        ]
    )


def _empty(title: str, message: str, *, width: int, height: int) -> str:
    return _frame(
        title,
        [
            f'<text x="{width / 2:.1f}" y="{height / 2:.1f}" text-anchor="middle" '
            f'{FONT} fill="#6b7280">{escape(message)}</text>'
        ],
        width=width,
        height=height,
    )


def _y_axis(low: float, high: float, *, top: float, bottom: float, width: int, fmt) -> list[str]:
    parts = []
    for fraction in (0.0, 0.5, 1.0):
        value = low + (high - low) * fraction
        y = bottom - (bottom - top) * fraction
        parts.append(
            f'<line x1="{MARGIN_LEFT}" x2="{width - MARGIN_RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            'stroke="#e5e7eb"/>'
            f'<text x="{MARGIN_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" {TEXT}>'
            f"{escape(fmt(value))}</text>"
        )
    return parts


def line_chart(
    points: Sequence[tuple[str, float]],
    *,
    title: str,
    width: int = WIDTH,
    height: int = HEIGHT,
    value_format=lambda value: f"{value:,.2f}",
    baseline: float | None = None,
    empty_message: str = "No data yet",
) -> str:
    """A polyline through `points` ((label, value), in order), one circle per point with
    the label and value as its tooltip; the first and last labels under the x axis and an
    optional dashed `baseline` (e.g. the starting capital)."""
    if not points:
        return _empty(title, empty_message, width=width, height=height)
    values = [float(value) for _, value in points]
    low, high = min(values), max(values)
    if baseline is not None:
        low, high = min(low, baseline), max(high, baseline)
    if high == low:
        low, high = low - 1, high + 1
    top, bottom = MARGIN_TOP, height - MARGIN_BOTTOM
    left, right = MARGIN_LEFT, width - MARGIN_RIGHT
    step = (right - left) / max(len(points) - 1, 1)

    def y_of(value: float) -> float:
        return bottom - (value - low) / (high - low) * (bottom - top)

    coordinates = [(left + index * step, y_of(value)) for index, value in enumerate(values)]
    body = _y_axis(low, high, top=top, bottom=bottom, width=width, fmt=value_format)
    if baseline is not None:
        y = y_of(baseline)
        body.append(
            f'<line x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#6b7280" '
            'stroke-dasharray="4 3"/>'
        )
    polyline = " ".join(f"{x:.1f},{y:.1f}" for x, y in coordinates)
    body.append(f'<polyline fill="none" stroke="#2563eb" stroke-width="2" points="{polyline}"/>')
    for (label, _), value, (x, y) in zip(points, values, coordinates, strict=True):
        body.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="#2563eb">'
            f"<title>{escape(label)}: {escape(value_format(value))}</title></circle>"
        )
    body.append(
        f'<text x="{left}" y="{height - 12}" {TEXT}>{escape(points[0][0])}</text>'
        f'<text x="{right}" y="{height - 12}" text-anchor="end" {TEXT}>'
        f"{escape(points[-1][0])}</text>"
    )
    return _frame(title, body, width=width, height=height)


def bar_chart(
    categories: Sequence[str],
    series: dict[str, Sequence[int]],
    *,
    title: str,
    width: int = WIDTH,
    height: int = HEIGHT,
    colours: dict[str, str] | None = None,
    empty_message: str = "No data yet",
) -> str:
    """Stacked bars: one bar per category, one segment per series (a legend names them),
    each segment with its count as a tooltip. Zero counts draw nothing."""
    if not categories:
        return _empty(title, empty_message, width=width, height=height)
    colours = colours or {}
    names = list(series)
    palette = {
        name: colours.get(name, _FALLBACK_COLOURS[index % len(_FALLBACK_COLOURS)])
        for index, name in enumerate(names)
    }
    totals = [sum(series[name][index] for name in names) for index in range(len(categories))]
    high = max(max(totals), 1)
    top, bottom = MARGIN_TOP + 14, height - MARGIN_BOTTOM
    left, right = MARGIN_LEFT, width - MARGIN_RIGHT
    slot = (right - left) / len(categories)
    bar_width = max(slot * 0.7, 1.0)
    body = _y_axis(0, high, top=top, bottom=bottom, width=width, fmt=lambda v: f"{v:.0f}")
    for index, category in enumerate(categories):
        x = left + index * slot + (slot - bar_width) / 2
        base = bottom
        for name in names:
            count = series[name][index]
            if not count:
                continue
            bar_height = count / high * (bottom - top)
            base -= bar_height
            body.append(
                f'<rect x="{x:.1f}" y="{base:.1f}" width="{bar_width:.1f}" '
                f'height="{bar_height:.1f}" fill="{palette[name]}">'
                f"<title>{escape(category)} {escape(name)}: {count}</title></rect>"
            )
    body.append(
        f'<text x="{left}" y="{height - 12}" {TEXT}>{escape(categories[0])}</text>'
        f'<text x="{right}" y="{height - 12}" text-anchor="end" {TEXT}>'
        f"{escape(categories[-1])}</text>"
    )
    legend_x = left
    for name in names:
        body.append(
            f'<rect x="{legend_x}" y="{MARGIN_TOP - 4}" width="10" height="10" '
            f'fill="{palette[name]}"/>'
            f'<text x="{legend_x + 14}" y="{MARGIN_TOP + 5}" {TEXT}>{escape(name)}</text>'
        )
        legend_x += 24 + 7 * len(name)
    return _frame(title, body, width=width, height=height)
