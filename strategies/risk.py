"""Risk settings: the platform's limits and defaults, and the API fields that check them.

A subscription's settings (capital, risk per trade, leverage, max positions, max daily
loss) must stay within the platform limits below, whoever sets them: the subscriber, or
the strategy's author, who may publish recommended values (`Strategy.default_*`, and a
minimum capital) that a subscription omitting them takes (what neither gives: the
defaults of `subscriptions.risk`). The fields live here, below subscriptions, so the
strategy's recommendations and the subscription's settings are checked by the same rules.
"""

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from rest_framework import serializers

# Greater than 0, stated in the OpenAPI schema as an exclusive minimum.
from tradeplatform.serializers import positive

MAX_RISK_PER_TRADE = Decimal("0.1")
MAX_LEVERAGE = 125
MAX_POSITIONS = 1000


def capital_field(**options) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=24,
        decimal_places=8,
        validators=[positive("Capital must be greater than 0")],
        **options,
    )


def risk_per_trade_field(**options) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=10,
        decimal_places=6,
        validators=[
            positive("Risk per trade must be greater than 0"),
            MaxValueValidator(
                MAX_RISK_PER_TRADE, "Risk per trade must be at most 0.1 (10 percent)"
            ),
        ],
        **options,
    )


def leverage_field(**options) -> serializers.IntegerField:
    return serializers.IntegerField(
        validators=[
            MinValueValidator(1, "Leverage must be at least 1"),
            MaxValueValidator(MAX_LEVERAGE, f"Leverage must be at most {MAX_LEVERAGE}"),
        ],
        **options,
    )


def max_positions_field(**options) -> serializers.IntegerField:
    return serializers.IntegerField(
        validators=[
            MinValueValidator(1, "Max positions must be at least 1"),
            MaxValueValidator(MAX_POSITIONS, f"Max positions must be at most {MAX_POSITIONS}"),
        ],
        **options,
    )


def max_daily_loss_field(**options) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=10,
        decimal_places=6,
        validators=[
            positive("Max daily loss must be greater than 0"),
            MaxValueValidator(Decimal("1"), "Max daily loss must be at most 1 (100 percent)"),
        ],
        **options,
    )


class RiskDefaultsSerializer(serializers.Serializer):
    """A strategy's recommended risk settings (`riskDefaults` on the wire); each is
    optional, null removes it."""

    risk_per_trade = risk_per_trade_field(
        source="default_risk_per_trade", required=False, allow_null=True
    )
    leverage = leverage_field(source="default_leverage", required=False, allow_null=True)
    max_positions = max_positions_field(
        source="default_max_positions", required=False, allow_null=True
    )
    max_daily_loss = max_daily_loss_field(
        source="default_max_daily_loss", required=False, allow_null=True
    )
    min_capital = capital_field(required=False, allow_null=True)


# The Strategy columns the recommendations are stored in.
DEFAULT_COLUMNS = {
    "risk_per_trade": "default_risk_per_trade",
    "leverage": "default_leverage",
    "max_positions": "default_max_positions",
    "max_daily_loss": "default_max_daily_loss",
}
RISK_DEFAULT_FIELDS = (*DEFAULT_COLUMNS.values(), "min_capital")
