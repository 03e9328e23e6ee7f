from rest_framework import serializers

from strategies.models import Strategy
from strategies.risk import (
    capital_field,
    leverage_field,
    max_daily_loss_field,
    max_positions_field,
    positive,
    risk_per_trade_field,
)

from .models import StrategySubscription
from .risk import DEFAULT_LEVERAGE, DEFAULT_MAX_DAILY_LOSS, DEFAULT_MAX_POSITIONS, RISK_FIELDS
from .selectors import subscription_stats


def _atr_multiplier(label: str) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=10,
        decimal_places=4,
        required=False,
        allow_null=True,
        validators=[positive(f"The {label} ATR multiplier must be greater than 0")],
    )


class RiskSettingsSerializer(serializers.Serializer):
    """The subscriber's risk settings, the only writable part of a subscription (the
    limits: strategies.risk)."""

    capital = capital_field()
    risk_per_trade = risk_per_trade_field()
    leverage = leverage_field(default=DEFAULT_LEVERAGE)
    max_positions = max_positions_field(default=DEFAULT_MAX_POSITIONS)
    max_daily_loss = max_daily_loss_field(default=DEFAULT_MAX_DAILY_LOSS)
    sl_atr_multiplier = _atr_multiplier("stop-loss")
    tp_atr_multiplier = _atr_multiplier("take-profit")


class SubscribeInputSerializer(RiskSettingsSerializer):
    """What a subscriber sends: capital and a credential at least. A risk setting left
    out takes the strategy's recommendation, else the platform default
    (`subscription_create`)."""

    risk_per_trade = risk_per_trade_field(required=False)
    leverage = leverage_field(required=False)
    max_positions = max_positions_field(required=False)
    max_daily_loss = max_daily_loss_field(required=False)
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


class KeepOpenTradesSerializer(serializers.Serializer):
    """The query of a cancel: `?keepOpenTrades=true` keeps the open trades following the
    strategy; by default they close at the next candle close."""

    keepOpenTrades = serializers.BooleanField(required=False, default=False)


class CancellationSerializer(serializers.Serializer):
    message = serializers.CharField()
    open_trades = serializers.IntegerField(help_text="Open trades when it was cancelled.")
    open_trades_kept = serializers.BooleanField(
        help_text="True: they follow the strategy; false: they close at the next candle close."
    )
