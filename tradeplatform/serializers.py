"""Serializer helpers shared by the apps' input serializers."""

from decimal import ROUND_HALF_EVEN, Decimal

from django.core.validators import MinValueValidator
from django.utils.deconstruct import deconstructible
from rest_framework import serializers

from executions.trading import rules
from tradeplatform.formatting import CENT
from tradeplatform.renderers import camel_key

# What a browsable-API form posts beside the fields (Django's CSRF token, DRF's overrides).
_FORM_KEYS = frozenset({"csrfmiddlewaretoken"})


class RejectUnknownFieldsMixin:
    """An input serializer that refuses a body naming a field it does not take, rather
    than answering 200 and silently ignoring it (`strategyId` in a subscription's PATCH,
    a misspelt `riskPertrade`). The error names every such field, in the wire's camelCase,
    and the fields that are writable."""

    def to_internal_value(self, data):
        if hasattr(data, "keys"):
            unknown = sorted(
                key
                for key in data
                if key not in self.fields and key not in _FORM_KEYS and not key.startswith("_")
            )
            if unknown:
                names = ", ".join(camel_key(key) for key in unknown)
                writable = ", ".join(
                    camel_key(name) for name, field in self.fields.items() if not field.read_only
                )
                message = f"Unknown or read-only fields: {names} (writable: {writable})"
                raise serializers.ValidationError(
                    {"non_field_errors": [message], **{key: ["Unknown field"] for key in unknown}}
                )
        return super().to_internal_value(data)


@deconstructible
class GreaterThanValidator(MinValueValidator):
    """`value > limit` (Django's MinValueValidator is `>=`); the OpenAPI schema states it
    as an exclusive minimum (tradeplatform.schema)."""

    def compare(self, a, b):
        return a <= b


def positive(message: str) -> GreaterThanValidator:
    """Greater than 0, with the message a person reads."""
    return GreaterThanValidator(0, message)


class RoundedDecimalField(serializers.DecimalField):
    """A read-only Decimal sent rounded to `step` (half to even): the figure a person reads,
    without the storage's rounding noise (`125.00000002`, `0.012500000000`)."""

    def __init__(self, *, step: Decimal, **kwargs):
        self.step = step
        places = max(0, -self.step.as_tuple().exponent)
        kwargs.setdefault("max_digits", 30)
        super().__init__(decimal_places=places, read_only=True, **kwargs)

    def to_representation(self, value):
        if value is None:
            return None
        return super().to_representation(Decimal(value).quantize(self.step, ROUND_HALF_EVEN))


def money_field(**kwargs) -> RoundedDecimalField:
    """Money (PnL, fees, equity) on the wire: to the cent, 0.01 (README, "Numbers and
    times")."""
    return RoundedDecimalField(step=CENT, **kwargs)


def quantity_field(**kwargs) -> RoundedDecimalField:
    """A quantity on the wire: to the sizing's step, 8 decimals (a fill an exchange reports
    finer is rounded to it)."""
    return RoundedDecimalField(step=rules.QUANTITY_STEP, **kwargs)
