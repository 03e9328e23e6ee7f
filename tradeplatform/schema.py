"""OpenAPI 3 description of the API (drf-spectacular): the error envelope and the
pagination envelope of the wire contract (docs/architecture.md), documented on every operation."""

from drf_spectacular.openapi import AutoSchema
from rest_framework import permissions, serializers


class ErrorSerializer(serializers.Serializer):
    """Every error answer: `{"error": message}`, plus `details` for field errors."""

    error = serializers.CharField(help_text="What went wrong, for a person to read.")
    details = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Field errors: field name to its messages.",
    )

    class Meta:
        ref_name = "Error"


_PUBLIC_PERMISSIONS = (permissions.AllowAny,)
_READ_PUBLIC_PERMISSIONS = (permissions.IsAuthenticatedOrReadOnly,)


class EnvelopeAutoSchema(AutoSchema):
    """Adds the error envelope to each operation for the answers it can give (400 on
    writes, 401 where a login is needed, 404 on a path with an id, 429 when throttled),
    unless the view documents that code itself, and names the pagination envelope key
    after the view's `envelope_key`."""

    # Operations grouped by what they are about (the first matching path prefix).
    TAGS_BY_PATH = (
        ("/auth/", "auth"),
        ("/api/broker-credentials", "broker credentials"),
        ("/api/strategy-upload/strategies/{strategy_pk}/executions", "history"),
        ("/api/strategy-upload/strategies/{strategy_pk}/backtests", "backtests"),
        ("/api/strategies/subscriptions/{subscription_pk}/trades", "history"),
        ("/api/strategy-upload/", "strategies"),
        ("/api/strategies/", "subscriptions"),
    )

    def get_tags(self) -> list[str]:
        for prefix, tag in self.TAGS_BY_PATH:
            if self.path.startswith(prefix):
                return [tag]
        return super().get_tags()

    def _get_paginator(self):
        paginator = super()._get_paginator()
        if paginator is not None:
            paginator.envelope_key = getattr(self.view, "envelope_key", "results")
        return paginator

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code, description in self._error_codes():
            if code not in responses:
                answer = self._get_response_for_code(ErrorSerializer, code)
                answer["description"] = description
                # The envelope is JSON whatever the operation's own answer is (an SVG chart).
                schema = next(iter(answer["content"].values()))
                answer["content"] = {"application/json": schema}
                responses[code] = answer
        return responses

    def _error_codes(self) -> list[tuple[str, str]]:
        codes = []
        if self.method in ("POST", "PUT", "PATCH", "DELETE") or self._takes_query_parameters():
            # DELETE too: a rule may refuse it (a strategy with active subscriptions, a
            # credential in use, a subscription already cancelled).
            codes.append(("400", "Invalid input"))
        if self._needs_login():
            codes.append(("401", "Authentication credentials were not provided or are invalid"))
        if "{" in self.path:
            codes.append(("404", "Not found (or not yours)"))
        if self.view.get_throttles():
            codes.append(("429", "Too many requests (throttled); Retry-After says when to retry"))
        return codes

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        # A rule checked by a service rather than the field (the password validators).
        minimum = getattr(field, "schema_min_length", None)
        if minimum is not None and direction == "request":
            schema["minLength"] = minimum
        return schema

    def _insert_field_validators(self, field, schema):
        """drf-spectacular knows Django's inclusive bounds; ours (`value > 0`) becomes an
        exclusive minimum."""
        from tradeplatform.serializers import GreaterThanValidator

        super()._insert_field_validators(field, schema)
        for validator in field.validators:
            if isinstance(validator, GreaterThanValidator):
                limit = validator.limit_value
                if schema.get("minimum") is None or schema["minimum"] <= limit:
                    schema["minimum"] = limit
                    schema["exclusiveMinimum"] = True

    def _get_filter_parameters(self):
        """The SPA sends every filter, empty when unused (`?search=&status=&tags=`), and an
        empty filter means no filter (django-filter): the schema says so."""
        parameters = super()._get_filter_parameters()
        for parameter in parameters:
            if parameter.get("in") == "query":
                parameter["allowEmptyValue"] = True
        return parameters

    def _takes_query_parameters(self) -> bool:
        """A list checks its `page`, `limit` and filters: a bad value is a 400."""
        return self._is_list_view() or bool(getattr(self.view, "filterset_class", None))

    def _needs_login(self) -> bool:
        for permission in self.view.get_permissions():
            if isinstance(permission, _PUBLIC_PERMISSIONS):
                continue
            if isinstance(permission, _READ_PUBLIC_PERMISSIONS) and self.method in (
                "GET",
                "HEAD",
                "OPTIONS",
            ):
                continue
            return True
        return False


def strip_trailing_slashes(result, generator, request, public):
    """Postprocessing hook: the API's paths have no trailing slash (the routes accept an
    optional one, `^login/?$`, which the generator renders as `login/`)."""
    result["paths"] = {
        (path.rstrip("/") or "/"): operations for path, operations in result["paths"].items()
    }
    return result


def answer(name: str, **fields) -> serializers.Serializer:
    """An answer object that wraps others, e.g. `{strategy: {...}}` or
    `{message, subscription}`, as one named component of the schema."""
    from drf_spectacular.utils import inline_serializer

    return inline_serializer(name=name, fields=fields)


def uuid_path(name: str):
    from drf_spectacular.types import OpenApiTypes
    from drf_spectacular.utils import OpenApiParameter

    return OpenApiParameter(name, OpenApiTypes.UUID, OpenApiParameter.PATH)


def schema_generation(view) -> bool:
    """True while drf-spectacular inspects the view: there is no real request or user, so
    `get_queryset` answers an empty queryset of its model."""
    return getattr(view, "swagger_fake_view", False)
