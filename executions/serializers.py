from rest_framework import serializers

from .models import StrategyExecution, Trade


class ExecutionSerializer(serializers.ModelSerializer):
    strategy_id = serializers.UUIDField(read_only=True)

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


class TradeSerializer(serializers.ModelSerializer):
    subscription_id = serializers.UUIDField(read_only=True)
    execution_id = serializers.UUIDField(read_only=True)

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
            "created_at",
            "closed_at",
        ]
        read_only_fields = fields
