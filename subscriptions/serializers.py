from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from rest_framework import serializers

from strategies.models import Strategy
from tradeplatform.serializers import RejectUnknownFieldsMixin, money_field, positive

from .models import StrategySubscription
from .risk import DEFAULT_LEVERAGE, DEFAULT_MAX_DAILY_LOSS, DEFAULT_MAX_POSITIONS, RISK_FIELDS
from .selectors import subscription_stats


def _atr_multiplier(label: str, key: str) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=10,
        decimal_places=4,
        required=False,
        allow_null=True,
        validators=[positive(f"The {label} ATR multiplier must be greater than 0")],
        help_text=f"When a signal has no {key}: place the {label} this many ATR(14) from "
        f"the price (> 0, up to 4 decimals). Null: a signal without {key} "
        + ("opens no trade for this subscription." if key == "stopLoss" else "sets none."),
    )


class RiskSettingsSerializer(serializers.Serializer):
    """The subscriber's risk settings, the only writable part of a subscription."""

    capital = serializers.DecimalField(
        max_digits=24,
        decimal_places=8,
        validators=[positive("Capital must be greater than 0")],
        help_text="The money this subscription trades, in the quote currency (USDT for "
        "BTCUSDT): > 0, up to 8 decimals.",
    )
    risk_per_trade = serializers.DecimalField(
        max_digits=10,
        decimal_places=6,
        validators=[
            positive("Risk per trade must be greater than 0"),
            MaxValueValidator(Decimal("0.1"), "Risk per trade must be at most 0.1 (10 percent)"),
        ],
        help_text="Fraction of the capital a stop-out loses: 0 < riskPerTrade <= 0.1 "
        "(0.01 = 1 percent), up to 6 decimals.",
    )
    leverage = serializers.IntegerField(
        default=DEFAULT_LEVERAGE,
        validators=[
            MinValueValidator(1, "Leverage must be at least 1"),
            MaxValueValidator(125, "Leverage must be at most 125"),
        ],
        help_text="Caps a position's notional at capital x leverage (it does not multiply "
        "the risk): 1-125.",
    )
    max_positions = serializers.IntegerField(
        default=DEFAULT_MAX_POSITIONS,
        validators=[
            MinValueValidator(1, "Max positions must be at least 1"),
            MaxValueValidator(1000, "Max positions must be at most 1000"),
        ],
        help_text="Open trades at most at once; a signal beyond it opens none: 1-1000.",
    )
    max_daily_loss = serializers.DecimalField(
        max_digits=10,
        decimal_places=6,
        default=DEFAULT_MAX_DAILY_LOSS,
        validators=[
            positive("Max daily loss must be greater than 0"),
            MaxValueValidator(Decimal("1"), "Max daily loss must be at most 1 (100 percent)"),
        ],
        help_text="Fraction of the capital lost in one UTC day after which no new trade "
        "opens that day: 0 < maxDailyLoss <= 1, up to 6 decimals.",
    )
    sl_atr_multiplier = _atr_multiplier("stop-loss", "stopLoss")
    tp_atr_multiplier = _atr_multiplier("take-profit", "takeProfit")


class SubscribeInputSerializer(RiskSettingsSerializer):
    broker_credential_id = serializers.UUIDField(
        help_text="One of the caller's active broker credentials."
    )


class SubscriptionUpdateSerializer(RejectUnknownFieldsMixin, RiskSettingsSerializer):
    """PUT/PATCH of a subscription: the risk settings, and the broker credential it trades
    with (another active one of the same user; refused while a trade is open)."""

    broker_credential_id = serializers.UUIDField(
        required=False,
        help_text="Move the subscription to another of the caller's active broker "
        "credentials (not while it has open trades).",
    )


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
    total_pnl = money_field()

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
    total_pnl = money_field()
    open_trades = serializers.IntegerField()

    @classmethod
    def for_subscription(cls, subscription: StrategySubscription) -> dict:
        return cls(subscription_stats(subscription=subscription)).data
