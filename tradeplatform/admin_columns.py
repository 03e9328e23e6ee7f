"""Admin columns and read-only fields that show numbers as tradeplatform.formatting says
(money to 2 decimals, prices and quantities without padding) instead of Django's
DecimalField display, which pads to the column's 8 or 12 places (`25000.00000000`).
Each is a callable for `list_display` / `readonly_fields`."""

from collections.abc import Callable

from django.contrib import admin

from .formatting import amount_text, money_text, percent_text


def _column(field: str, label: str, show: Callable[[object], str]):
    @admin.display(description=label, ordering=field)
    def column(obj) -> str:
        return show(getattr(obj, field))

    column.__name__ = f"{field}_shown"
    return column


def money_column(field: str, label: str | None = None):
    return _column(field, label or field.replace("_", " "), money_text)


def amount_column(field: str, label: str | None = None):
    """A price or a quantity."""
    return _column(field, label or field.replace("_", " "), amount_text)


def percent_column(field: str, label: str | None = None):
    return _column(field, label or field.replace("_", " "), percent_text)
