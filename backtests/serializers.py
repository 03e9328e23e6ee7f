from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from rest_framework import serializers

from marketdata.candles import RESOLUTION_CHOICES
from strategies.serializers import SymbolField
from subscriptions.serializers import RiskSettingsSerializer
from tradeplatform.formatting import money_rounded
from tradeplatform.serializers import money_field, quantity_field

from .metrics import MONEY_KEYS, metrics_from_json
from .models import Backtest, BacktestTrade


def _rate(label: str, maximum: Decimal) -> serializers.DecimalField:
    """A fraction from 0 to `maximum`, 0 when not given."""
    return serializers.DecimalField(
        max_digits=10,
        decimal_places=8,
        default=Decimal(0),
        validators=[
            MinValueValidator(Decimal(0), f"{label} must be at least 0"),
            MaxValueValidator(
                maximum,
                f"{label} must be at most {maximum} ({(maximum * 100).normalize()} percent)",
            ),
        ],
    )


class BacktestInputSerializer(RiskSettingsSerializer):
    """The body of POST …/backtests: the subscription's risk settings, with the same
    rules, plus the period, an optional other candle, and the costs to model."""

    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    symbol = SymbolField(required=False)
    resolution = serializers.ChoiceField(choices=RESOLUTION_CHOICES, required=False)
    fee_rate = _rate("Fee rate", Decimal("0.01"))
    slippage = _rate("Slippage", Decimal("0.05"))


def _decimal_params(params: dict) -> dict:
    """Stored settings back to numbers (the renderer writes Decimals as JSON numbers)."""
    return {
        name: Decimal(value) if isinstance(value, str) else value for name, value in params.items()
    }


class BacktestSerializer(serializers.ModelSerializer):
    """A backtest's state; the results (metrics, equity curve) once it is done."""

    strategy_id = serializers.UUIDField(read_only=True)
    user_id = serializers.UUIDField(read_only=True)
    settings = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()
    metrics = serializers.SerializerMethodField()
    equity_curve = serializers.SerializerMethodField()
    equity_chart_url = serializers.SerializerMethodField(
        help_text="The equity curve as an SVG chart (GET it with the same credentials)."
    )
    message = serializers.CharField(
        read_only=True,
        help_text="A readable summary once done; for PARTIAL, how many candles were missing "
        "and why, first.",
    )

    class Meta:
        model = Backtest
        fields = [
            "id",
            "strategy_id",
            "user_id",
            "symbol",
            "resolution",
            "start",
            "end",
            "settings",
            "status",
            "message",
            "progress_done",
            "progress_total",
            "progress",
            "metrics",
            "equity_curve",
            "equity_chart_url",
            "missing_candles_count",
            "missing_candles",
            "error_message",
            "created_at",
            "started_at",
            "completed_at",
        ]
        read_only_fields = fields

    def get_settings(self, backtest: Backtest) -> dict:
        """The risk settings and costs replayed (`params` on the model)."""
        return _decimal_params(backtest.params)

    def get_progress(self, backtest: Backtest) -> float:
        """Fraction 0-1 of the candles walked."""
        if backtest.status in Backtest.DONE:
            return 1.0
        if not backtest.progress_total:
            return 0.0
        return round(backtest.progress_done / backtest.progress_total, 4)

    def get_metrics(self, backtest: Backtest) -> dict | None:
        """Money to the cent; ratios and percents as stored."""
        metrics = metrics_from_json(backtest.metrics)
        if metrics is None:
            return None
        return {
            key: money_rounded(value) if key in MONEY_KEYS else value
            for key, value in metrics.items()
        }

    def get_equity_chart_url(self, backtest: Backtest) -> str:
        return (
            f"/api/strategy-upload/strategies/{backtest.strategy_id}/backtests/"
            f"{backtest.id}/equity.svg"
        )

    def get_equity_curve(self, backtest: Backtest) -> list:
        """[[time, equity], …] with equity as a JSON number."""
        return [[moment, money_rounded(value)] for moment, value in backtest.equity_curve]


class BacktestListSerializer(BacktestSerializer):
    """The list leaves out the heavy parts (curve, missing candles)."""

    class Meta(BacktestSerializer.Meta):
        fields = [
            name
            for name in BacktestSerializer.Meta.fields
            if name not in ("equity_curve", "missing_candles", "equity_chart_url")
        ]
        read_only_fields = fields


class BacktestTradeSerializer(serializers.ModelSerializer):
    quantity = quantity_field()
    fee = money_field()
    pnl = money_field(allow_null=True)

    class Meta:
        model = BacktestTrade
        fields = ["id", *BacktestTrade.PUBLIC_FIELDS]
        read_only_fields = fields
