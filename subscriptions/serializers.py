from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from rest_framework import serializers

from strategies.models import Strategy

from .models import StrategySubscription
from .risk import DEFAULT_LEVERAGE, DEFAULT_MAX_DAILY_LOSS, DEFAULT_MAX_POSITIONS, RISK_FIELDS
from .selectors import subscription_stats


def _positive(message: str):
    def check(value):
        if value is not None and value <= 0:
            raise serializers.ValidationError(message)

    return check


def _atr_multiplier(label: str) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=10,
        decimal_places=4,
        required=False,
        allow_null=True,
        validators=[_positive(f"The {label} ATR multiplier must be greater than 0")],
    )


class RiskSettingsSerializer(serializers.Serializer):
    """The subscriber's risk settings, the only writable part of a subscription."""

    capital = serializers.DecimalField(
        max_digits=24, decimal_places=8, validators=[_positive("Capital must be greater than 0")]
    )
    risk_per_trade = serializers.DecimalField(
        max_digits=10,
        decimal_places=6,
        validators=[
            _positive("Risk per trade must be greater than 0"),
            MaxValueValidator(Decimal("0.1"), "Risk per trade must be at most 0.1 (10 percent)"),
        ],
    )
    leverage = serializers.IntegerField(
        default=DEFAULT_LEVERAGE,
        validators=[
            MinValueValidator(1, "Leverage must be at least 1"),
            MaxValueValidator(125, "Leverage must be at most 125"),
        ],
    )
    max_positions = serializers.IntegerField(
        default=DEFAULT_MAX_POSITIONS,
        validators=[
            MinValueValidator(1, "Max positions must be at least 1"),
            MaxValueValidator(1000, "Max positions must be at most 1000"),
        ],
    )
    max_daily_loss = serializers.DecimalField(
        max_digits=10,
        decimal_places=6,
        default=DEFAULT_MAX_DAILY_LOSS,
        validators=[
            _positive("Max daily loss must be greater than 0"),
            MaxValueValidator(Decimal("1"), "Max daily loss must be at most 1 (100 percent)"),
        ],
    )
    sl_atr_multiplier = _atr_multiplier("stop-loss")
    tp_atr_multiplier = _atr_multiplier("take-profit")


class SubscribeInputSerializer(RiskSettingsSerializer):
    broker_credential_id = serializers.UUIDField()


class SubscriptionStrategySerializer(serializers.ModelSerializer):
    class Meta:
        model = Strategy
        fields = ["id", "name", "execution_config"]


class SubscriptionOutputSerializer(serializers.ModelSerializer):
    user_id = serializers.UUIDField(read_only=True)
    strategy_id = serializers.UUIDField(read_only=True)
    broker_credential_id = serializers.UUIDField(read_only=True)
    strategy = SubscriptionStrategySerializer(read_only=True)
    open_trades = serializers.IntegerField(read_only=True, default=None)

    class Meta:
        model = StrategySubscription
        fields = [
            "id",
            "user_id",
            "strategy_id",
            "strategy",
            "broker_credential_id",
            *RISK_FIELDS,
            "is_active",
            "is_paused",
            "pause_reason",
            "subscribed_at",
            "paused_at",
            "unsubscribed_at",
            "total_trades",
            "winning_trades",
            "losing_trades",
            "total_pnl",
            "open_trades",
        ]
        read_only_fields = fields


class SubscriptionStatsSerializer(serializers.Serializer):
    total_trades = serializers.IntegerField()
    winning_trades = serializers.IntegerField()
    losing_trades = serializers.IntegerField()
    win_rate = serializers.FloatField()
    total_pnl = serializers.DecimalField(max_digits=24, decimal_places=8)
    open_trades = serializers.IntegerField()

    @classmethod
    def for_subscription(cls, subscription: StrategySubscription) -> dict:
        return cls(subscription_stats(subscription=subscription)).data
