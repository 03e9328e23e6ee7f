import re

from tradeplatform.svg import bar_chart, line_chart


def _polyline_points(svg: str) -> list[str]:
    return re.search(r'<polyline[^>]* points="([^"]*)"', svg).group(1).split()


def test_line_chart_draws_one_vertex_and_one_marker_per_point():
    svg = line_chart([("a", 100), ("b", 110), ("c", 90), ("d", 120)], title="Equity")
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert len(_polyline_points(svg)) == 4
    assert svg.count("<circle") == 4


def test_line_chart_puts_higher_values_higher_on_the_page():
    svg = line_chart([("start", 100), ("end", 200)], title="Equity", baseline=100)
    (x1, y1), (x2, y2) = (map(float, p.split(",")) for p in _polyline_points(svg))
    assert x2 > x1 and y2 < y1
    assert 'stroke-dasharray="4 3"' in svg  # the baseline


def test_line_chart_with_a_single_or_flat_series_still_draws():
    assert len(_polyline_points(line_chart([("only", 5)], title="t"))) == 1
    assert len(_polyline_points(line_chart([("a", 5), ("b", 5)], title="t"))) == 2


def test_empty_charts_say_so():
    assert "No data yet" in line_chart([], title="t")
    assert "nothing here" in bar_chart([], {}, title="t", empty_message="nothing here")


def test_every_label_is_escaped():
    evil = '<script>alert("x")</script>'
    svg = line_chart([(evil, 1), (evil, 2)], title=evil)
    svg += bar_chart([evil], {evil: [1]}, title=evil)
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg


def test_bar_chart_stacks_one_segment_per_non_zero_count():
    svg = bar_chart(
        ["10:00", "11:00", "12:00"],
        {"COMPLETED": [3, 0, 1], "SKIPPED": [1, 0, 0], "FAILED": [0, 2, 0]},
        title="Executions",
        colours={"FAILED": "#dc2626"},
    )
    bars = re.findall(r"<rect [^>]*><title>([^<]*)</title></rect>", svg)
    assert bars == [
        "10:00 COMPLETED: 3",
        "10:00 SKIPPED: 1",
        "11:00 FAILED: 2",
        "12:00 COMPLETED: 1",
    ]
    assert 'fill="#dc2626"><title>11:00 FAILED' in svg
    assert svg.count("<text") >= 3 + 2 + 3  # axis, first/last labels, legend
