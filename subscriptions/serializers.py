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
from tradeplatform.serializers import RejectUnknownFieldsMixin, money_field

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


HELP = {
    "capital": "The money this subscription trades, in the quote currency (USDT for "
    "BTCUSDT): > 0, up to 8 decimals.",
    "risk_per_trade": "Fraction of the capital a stop-out loses: 0 < riskPerTrade <= 0.1 "
    "(0.01 = 1 percent), up to 6 decimals.",
    "leverage": "Caps a position's notional at capital x leverage (it does not multiply "
    "the risk): 1-125.",
    "max_positions": "Open trades at most at once; a signal beyond it opens none: 1-1000.",
    "max_daily_loss": "Fraction of the capital lost in one UTC day after which no new trade "
    "opens that day: 0 < maxDailyLoss <= 1, up to 6 decimals.",
}


class RiskSettingsSerializer(serializers.Serializer):
    """The subscriber's risk settings, the only writable part of a subscription (the
    limits: strategies.risk)."""

    capital = capital_field(help_text=HELP["capital"])
    risk_per_trade = risk_per_trade_field(help_text=HELP["risk_per_trade"])
    leverage = leverage_field(default=DEFAULT_LEVERAGE, help_text=HELP["leverage"])
    max_positions = max_positions_field(
        default=DEFAULT_MAX_POSITIONS, help_text=HELP["max_positions"]
    )
    max_daily_loss = max_daily_loss_field(
        default=DEFAULT_MAX_DAILY_LOSS, help_text=HELP["max_daily_loss"]
    )
    sl_atr_multiplier = _atr_multiplier("stop-loss", "stopLoss")
    tp_atr_multiplier = _atr_multiplier("take-profit", "takeProfit")


class SubscribeInputSerializer(RiskSettingsSerializer):
    """What a subscriber sends: capital and a credential at least. A risk setting left
    out takes the strategy's recommendation, else the platform default
    (`subscription_create`)."""

    risk_per_trade = risk_per_trade_field(required=False, help_text=HELP["risk_per_trade"])
    leverage = leverage_field(required=False, help_text=HELP["leverage"])
    max_positions = max_positions_field(required=False, help_text=HELP["max_positions"])
    max_daily_loss = max_daily_loss_field(required=False, help_text=HELP["max_daily_loss"])
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
    total_pnl = money_field()
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
