from decimal import Decimal

import pytest

from tradeplatform.formatting import amount_text, money_text, percent_text


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Decimal("125.00000002"), "125.00"),
        (Decimal("-24.99999999"), "-25.00"),
        (Decimal("25000.00000000"), "25,000.00"),
        (Decimal("0E-8"), "0.00"),
        (Decimal("0.005"), "0.00"),  # half to even
        (Decimal("0.015"), "0.02"),
        (None, "-"),
    ],
)
def test_money(value, shown):
    assert money_text(value) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (49505.869999999995, "49505.87"),
        (Decimal("0.012500000000"), "0.0125"),
        (Decimal("100.00000000"), "100"),
        (Decimal("0.000000004"), "0"),
        (Decimal("1.123456789"), "1.12345679"),
    ],
)
def test_amounts(value, shown):
    assert amount_text(value) == shown


def test_percent():
    assert percent_text(Decimal("0.010000")) == "1%"
    assert percent_text(Decimal("0.015")) == "1.5%"
    assert percent_text(2 / 3) == "66.67%"
