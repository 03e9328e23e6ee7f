from rest_framework import serializers

from .models import Order, StrategyExecution, Trade


class ExecutionSerializer(serializers.ModelSerializer):
    strategy_id = serializers.UUIDField(read_only=True)
    # The wire contract's name for the candle close.
    scheduled_time = serializers.DateTimeField(source="candle_close", read_only=True)

    class Meta:
        model = StrategyExecution
        fields = [
            "id",
            "strategy_id",
            "symbol",
            "resolution",
            "scheduled_time",
            "started_at",
            "completed_at",
            "status",
            "signal",
            "subscribers_count",
            "trades_created",
            "error_message",
            "duration_ms",
        ]
        read_only_fields = fields


class _BlankAsNullChoiceField(serializers.ChoiceField):
    def to_representation(self, value):
        return value or None


class TradeSerializer(serializers.ModelSerializer):
    subscription_id = serializers.UUIDField(read_only=True)
    execution_id = serializers.UUIDField(read_only=True)
    # The column is blank while the trade is open; the wire says null, as the schema does.
    exit_reason = _BlankAsNullChoiceField(
        choices=Trade.ExitReason.choices, allow_null=True, read_only=True
    )

    class Meta:
        model = Trade
        fields = [
            "id",
            "subscription_id",
            "execution_id",
            "symbol",
            "side",
            "quantity",
            "entry_price",
            "stop_loss",
            "take_profit",
            "exit_price",
            "exit_reason",
            "status",
            "pnl",
            "fees",
            "created_at",
            "closed_at",
        ]
        read_only_fields = fields


class OrderSerializer(serializers.ModelSerializer):
    """An exchange action of one of the caller's trades, as the exchange reported it."""

    trade_id = serializers.UUIDField(read_only=True)

    class Meta:
        model = Order
        fields = [
            "id",
            "trade_id",
            "purpose",
            "symbol",
            "side",
            "type",
            "reduce_only",
            "quantity",
            "price",
            "trigger_price",
            "status",
            "filled_quantity",
            "average_price",
            "fee",
            "exchange_order_id",
            "client_order_id",
            "attempts",
            "last_error",
            "created_at",
            "submitted_at",
            "updated_at",
            "filled_at",
        ]
        read_only_fields = fields
