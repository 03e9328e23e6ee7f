from rest_framework import serializers

from tradeplatform.serializers import money_field, quantity_field

from .execution_log import engine_notes_for_author, execution_log_split
from .models import Order, StrategyExecution, Trade


class ExecutionSerializer(serializers.ModelSerializer):
    """One run. `output` and `engineNotes` are the strategy author's debugging aids: they
    are in the answer only where the view has checked the caller is the author (or staff)
    and says so with `author_view` in the context; anywhere else they are absent."""

    strategy_id = serializers.UUIDField(read_only=True)
    output = serializers.SerializerMethodField(
        help_text="What the strategy printed during the run (first 64 KB); author only."
    )
    engine_notes = serializers.SerializerMethodField(
        help_text="What the engine did with the signal: trades opened and closed, and per "
        "reason how many subscriptions got no trade; author only."
    )
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
            "output",
            "engine_notes",
            "duration_ms",
        ]
        read_only_fields = fields

    AUTHOR_FIELDS = ("output", "engine_notes")

    def get_output(self, execution: StrategyExecution) -> str:
        return execution_log_split(execution.execution_log)[0]

    def get_engine_notes(self, execution: StrategyExecution) -> list[str]:
        return engine_notes_for_author(execution_log_split(execution.execution_log)[1])

    def get_fields(self):
        fields = super().get_fields()
        if not self.context.get("author_view"):
            for name in self.AUTHOR_FIELDS:
                fields.pop(name)
        return fields


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
    quantity = quantity_field()
    pnl = money_field(allow_null=True)

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
    execution_id = serializers.UUIDField(
        read_only=True,
        allow_null=True,
        help_text="The strategy run that decided it; null for the platform's own (a flatten, "
        "a cancel, a protection).",
    )

    class Meta:
        model = Order
        fields = ["id", "trade_id", "execution_id", "symbol", *Order.RECORD_FIELDS, "updated_at"]
        read_only_fields = fields
