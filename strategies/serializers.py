from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from tradeplatform.serializers import RejectUnknownFieldsMixin
from tradeplatform.views import STRATEGY_GUIDE_URL

from .models import Strategy
from .risk import RiskDefaultsSerializer
from .selectors import strategy_can_read_source
from .validation import (
    MAX_SOURCE_BYTES,
    SYMBOL_PATTERN,
    SYMBOL_RE,
    SYMBOL_RULE,
    normalize_symbol,
)

# What the browsable API's upload form starts from.
SOURCE_TEMPLATE = """from indicators import sma


def generate_signal(candles, params):
    tunables = params.get("params") or {}
    period = int(tunables.get("period", 20))
    if len(candles) < period:
        return {"action": "HOLD"}
    if candles.close[-1] > sma(candles.close, period)[-1]:
        return {"action": "BUY", "stopLoss": min(candles.low[-period:])}
    return {"action": "HOLD"}
"""
CONFIG_TEMPLATE = {"symbol": "BTCUSDT", "resolution": 5, "lookbackPeriod": 100, "params": {}}


@extend_schema_field(OpenApiTypes.STR)
class TagsField(serializers.Field):
    """Tags travel as a comma-separated string; a list of strings is accepted too."""

    def to_internal_value(self, data):
        if isinstance(data, str):
            return data
        if isinstance(data, list) and all(isinstance(item, str) for item in data):
            return data
        raise serializers.ValidationError("Tags must be a comma-separated string")

    def to_representation(self, value):
        return value


@extend_schema_field(
    {
        "type": "string",
        "pattern": SYMBOL_PATTERN,
        "example": "BTCUSDT",
        "description": SYMBOL_RULE,
    }
)
class SymbolField(serializers.CharField):
    """A market symbol (`BTCUSDT`; `btc/usdt` is accepted), stored as `BTCUSDT`."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 31)
        kwargs.setdefault("help_text", SYMBOL_RULE)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        text = super().to_internal_value(data)
        if not SYMBOL_RE.match(text.strip().upper()):
            raise serializers.ValidationError(f"{SYMBOL_RULE[0].upper()}{SYMBOL_RULE[1:]}")
        return normalize_symbol(text)


class StrategyInputSerializer(serializers.Serializer):
    """What an author may set. Anything else in the body (id, user, author,
    subscriberCount, createdAt, isMarketplace, …) is ignored."""

    name = serializers.CharField(max_length=200)
    code = serializers.SlugField(
        max_length=100, help_text="Unique short name: letters, digits, '-' and '_'."
    )
    description = serializers.CharField(
        allow_blank=True,
        required=False,
        max_length=10_000,
        style={"base_template": "textarea.html", "rows": 3},
    )
    # Checked for size, syntax and the entry point by the service (strategies.validation).
    strategy_code = serializers.CharField(
        trim_whitespace=False,
        initial=SOURCE_TEMPLATE,
        style={"base_template": "textarea.html", "rows": 18},
        help_text="Python source defining generate_signal(candles, params); at most "
        f"{MAX_SOURCE_BYTES // 1024} KB of UTF-8. See {STRATEGY_GUIDE_URL}.",
    )
    execution_config = serializers.JSONField(
        initial=CONFIG_TEMPLATE,
        style={"base_template": "textarea.html", "rows": 6},
        help_text="{symbol, resolution (1, 5, 15, 30, 60, 240, 1440 minutes), "
        "lookbackPeriod (1-5000, default 100), params (your tunables)}",
    )
    tags = TagsField(required=False, help_text="Comma-separated, e.g. trend,sma")
    is_public = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Listed for everyone to see, subscribe to and backtest; private (false) "
        "unless asked.",
    )
    # Recommended risk settings; in an update, the keys given replace the stored ones.
    risk_defaults = RiskDefaultsSerializer(required=False)


class StrategyUpdateSerializer(RejectUnknownFieldsMixin, StrategyInputSerializer):
    """PUT/PATCH (a partial body): a field it does not take is a 400 naming it."""


class StrategyOutputSerializer(serializers.ModelSerializer):
    user_id = serializers.UUIDField(read_only=True)
    risk_defaults = RiskDefaultsSerializer(source="*", read_only=True)

    class Meta:
        model = Strategy
        fields = [
            "id",
            "user_id",
            "name",
            "code",
            "description",
            "author",
            "version",
            "strategy_code",
            "execution_config",
            "is_active",
            "is_public",
            "is_marketplace",
            "subscriber_count",
            "tags",
            "risk_defaults",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_fields(self):
        fields = super().get_fields()
        # Lists carry metadata only (a source may be 100 KB a row, and the list query
        # defers it); a detail carries the source for its owner and staff.
        if self.context.get("list"):
            fields.pop("strategy_code")
        return fields

    def to_representation(self, instance):
        data = super().to_representation(instance)
        request = self.context.get("request")
        if not strategy_can_read_source(user=getattr(request, "user", None), strategy=instance):
            data.pop("strategy_code", None)
        return data
