"""The sandbox's indicators: exact sums, so equal windows tie exactly."""

import math

from hypothesis import given
from hypothesis import strategies as st

from executions.sandbox import indicators


def test_equal_windows_give_equal_averages_whatever_came_before():
    # The same three values after a large one: a running sum still carries 1e8's rounding.
    values = [1e8, 0.1, 0.2, 0.3, 0.1, 0.2, 0.3]
    averages = indicators.sma(values, 3)
    assert averages[3] == averages[6] == math.fsum([0.1, 0.2, 0.3]) / 3


def test_an_exact_tie_then_a_rise_is_a_crossover():
    # On the last-but-one bar the 2- and 4-bar averages are both 0.3 exactly, then the
    # fast one rises: a crossover. A running sum dragged the large first value along and
    # saw the fast average a hair above the slow one at the tie (no crossover).
    values = [171049.71872434582, 0.8, 0.2, 0.5, 0.3, 0.3, 0.0, 0.6, 1.0]
    fast, slow = indicators.sma(values, 2), indicators.sma(values, 4)
    assert fast[-2] == slow[-2]
    assert indicators.crossover(fast, slow)


@given(
    st.lists(st.floats(min_value=-1e12, max_value=1e12), min_size=1, max_size=60),
    st.integers(min_value=1, max_value=10),
)
def test_every_average_is_the_exact_mean_of_its_window(values, period):
    averages = indicators.sma(values, period)
    for index, average in enumerate(averages):
        if index < period - 1:
            assert average is None
        else:
            assert average == math.fsum(values[index - period + 1 : index + 1]) / period


def test_seeds_are_exact_sums_too():
    values = [0.001, 0.1, 0.001, 0.001, 0.3]
    assert indicators.ema(values, 5)[4] == math.fsum(values) / 5
    # Flat closes at 0: each true range is the bar's high.
    atr = indicators.atr(values, [0.0] * 5, [0.0] * 5, period=5)
    assert atr[4] == math.fsum(values) / 5
