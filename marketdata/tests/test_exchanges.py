"""What the platform keeps of an exchange's balance answer (hostile until checked)."""

from decimal import Decimal

import pytest

from marketdata.exchanges import account_balance


@pytest.mark.parametrize(
    ("reported", "kept"),
    [
        (0.12345678901234567, Decimal("0.12345678")),  # a float's noise: down to 8 places
        ("2500.999999999", Decimal("2500.99999999")),  # never more than the account holds
        (-12.5, Decimal("-12.50000000")),
        (1e20, None),  # beyond any balance column: not reported
        (float("nan"), None),
        ("Infinity", None),
        (None, None),
    ],
)
def test_a_balance_is_rounded_down_once_and_an_absurd_one_is_not_reported(reported, kept):
    balance = account_balance({"USDT": {"free": reported, "total": reported}}, "USDT")
    assert (balance.free, balance.total) == (kept, kept)


def test_a_currency_the_account_does_not_hold_is_not_reported():
    balance = account_balance({"BTC": {"free": 1.0, "total": 1.0}}, "USDT")
    assert (balance.currency, balance.free, balance.total) == ("USDT", None, None)
