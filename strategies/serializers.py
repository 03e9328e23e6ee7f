from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .models import Strategy
from .risk import RiskDefaultsSerializer
from .selectors import strategy_can_read_source


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


class StrategyInputSerializer(serializers.Serializer):
    """What an author may set. Anything else in the body (id, user, author,
    subscriberCount, createdAt, isMarketplace, …) is ignored."""

    name = serializers.CharField(max_length=200)
    code = serializers.SlugField(max_length=100)
    description = serializers.CharField(allow_blank=True, required=False, max_length=10_000)
    # Checked for size, syntax and the entry point by the service (strategies.validation).
    strategy_code = serializers.CharField(trim_whitespace=False)
    execution_config = serializers.JSONField()
    tags = TagsField(required=False)
    is_public = serializers.BooleanField(required=False, default=True)
    # Recommended risk settings; in an update, the keys given replace the stored ones.
    risk_defaults = RiskDefaultsSerializer(required=False)


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
