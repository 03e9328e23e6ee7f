"""How numbers read where a person sees them (the admin, the command line), one step per
kind, rounding half to even once, for display only (what is stored and what the API sends
keep the stored precision):

- money (capital, PnL, fees, equity): 2 decimals, thousands separated: `1,234,567.12`;
- prices and quantities: at most 8 decimals, trailing zeros dropped: `0.0125`, `42000.5`;
- fractions (risk per trade, win rate, daily loss): percent, up to 2 decimals: `1.5%`.
"""

from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal

CENT = Decimal("0.01")
EIGHT_PLACES = Decimal("0.00000001")


def _decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, Decimal) else Decimal(str(value))


def money_rounded(value) -> Decimal | None:
    """Money to the cent, half to even (the API's step too)."""
    number = _decimal(value)
    return None if number is None else number.quantize(CENT, rounding=ROUND_HALF_EVEN)


def money_text(value) -> str:
    number = money_rounded(value)
    return "-" if number is None else f"{number:,}"


def amount_text(value) -> str:
    """A price or a quantity."""
    number = _decimal(value)
    if number is None:
        return "-"
    rounded = number.quantize(EIGHT_PLACES, rounding=ROUND_HALF_EVEN).normalize()
    # normalize() writes 100 as 1E+2: back to plain digits.
    return f"{rounded:f}"


def percent_text(value) -> str:
    number = _decimal(value)
    if number is None:
        return "-"
    shown = (number * 100).quantize(CENT, rounding=ROUND_HALF_EVEN).normalize()
    return f"{shown:f}%"


def iso_utc(moment: datetime) -> str:
    """`2026-01-15T15:00:00Z`: ISO 8601 in UTC with `Z`, as the API writes every time."""
    text = moment.astimezone(UTC).isoformat()
    return text.removesuffix("+00:00") + "Z"
