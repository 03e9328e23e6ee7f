"""/api/strategy-upload/strategies (the wire contract: docs/architecture.md, README).

Decisions where the design is silent:
- The list carries metadata only, never `strategyCode` (a source may be 100 KB a row);
  the detail carries it for the owner and staff.
- Without `status`, the list holds everything the caller may see: public active strategies,
  and the caller's own whether active or not (staff see all).
- `tags=a,b` keeps strategies that carry every tag given (whole tags, case-insensitive).
- An `executionConfig` in an update replaces the keys it gives; `params` goes as a whole.
"""

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.permissions import SAFE_METHODS, AllowAny, BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle

from accounts.serializers import MessageSerializer
from tradeplatform.api import NotFoundMessageMixin
from tradeplatform.schema import ErrorSerializer, answer, schema_generation
from tradeplatform.views import STRATEGY_GUIDE_URL

from . import selectors, services
from .filters import StrategyFilter
from .models import Strategy
from .serializers import (
    CONFIG_TEMPLATE,
    SOURCE_TEMPLATE,
    StrategyInputSerializer,
    StrategyOutputSerializer,
    StrategyUpdateSerializer,
)


class IsOwnerForWrites(BasePermission):
    """Writes are the author's. The write querysets are scoped to the owner already; this
    also keeps the browsable API from rendering an edit form, filled with the source, for
    someone else's strategy."""

    def has_object_permission(self, request, view, obj):
        return request.method in SAFE_METHODS or obj.user_id == request.user.pk


STRATEGY_ANSWER = answer("StrategyAnswer", strategy=StrategyOutputSerializer())
UPLOAD_EXAMPLE = OpenApiExample(
    "Close above its 20-bar average",
    value={
        "name": "Close vs SMA(20)",
        "code": "close-vs-sma",
        "description": "Long above the 20-bar average.",
        "strategyCode": SOURCE_TEMPLATE,
        "executionConfig": CONFIG_TEMPLATE,
        "tags": "trend,sma",
        "isPublic": False,
    },
    request_only=True,
)
UPDATE_DESCRIPTION = (
    "The author's own strategy (anyone else's answers 404). A partial body: the fields "
    "given change, a field this endpoint does not take (`id`, `author`, a typo) is a 400 "
    "naming it. A new source is checked like an upload and bumps the patch version; keys of "
    "`executionConfig` replace the stored ones (`params` as a whole); a new candle moves "
    "the strategy to it from the next close."
)


@extend_schema_view(
    list=extend_schema(
        summary="Strategies the caller may see (metadata only)",
        description="Public active strategies, and the caller's own whether active or not; "
        "never the source. `search` looks in the name, code and description, `tags=a,b` "
        "keeps those carrying every tag, `status` is active or inactive.",
    ),
    retrieve=extend_schema(
        summary="One strategy; its source only for the owner and staff",
        description="A public active strategy, or the caller's own; anything else is 404 "
        '"Strategy not found". `strategyCode` is in the answer for its author and staff '
        "only.",
        responses=STRATEGY_ANSWER,
    ),
    create=extend_schema(
        summary="Upload a strategy",
        description=(
            "The source defines `generate_signal(candles, params)`; how to write one (the "
            "candles, `params`, the indicators, the signal's keys, `executionConfig`, the "
            f"sandbox's limits, backtesting) is the [strategy guide]({STRATEGY_GUIDE_URL}). "
            "The source must compile and define that function (an error names the line); "
            "`executionConfig` is `{symbol, resolution, lookbackPeriod?, params?}`. The "
            "strategy is private unless `isPublic` is true. Throttled per user "
            "(`THROTTLE_STRATEGY_UPLOAD`, 30 an hour by default): 429 beyond it."
        ),
        request=StrategyInputSerializer,
        examples=[UPLOAD_EXAMPLE],
        responses={
            201: STRATEGY_ANSWER,
            409: OpenApiResponse(ErrorSerializer, description="Strategy code already exists"),
        },
    ),
    update=extend_schema(
        summary="Change a strategy (owner; a partial body is accepted)",
        description=UPDATE_DESCRIPTION,
        request=StrategyUpdateSerializer,
        responses=STRATEGY_ANSWER,
    ),
    partial_update=extend_schema(
        summary="Change a strategy (owner)",
        description=UPDATE_DESCRIPTION,
        request=StrategyUpdateSerializer,
        responses=STRATEGY_ANSWER,
    ),
    destroy=extend_schema(
        summary="Delete a strategy (owner; soft; refused while it has active subscriptions)",
        description="The strategy stops running and leaves the public list; its executions "
        "and backtests stay. 400 while a subscription to it is active (its subscribers "
        "cancel first).",
        responses={200: MessageSerializer},
    ),
)
class StrategyViewSet(NotFoundMessageMixin, viewsets.ModelViewSet):
    """/api/strategy-upload/strategies: anyone may browse; authors upload and manage
    their own. Another author's strategy answers 404 to every write."""

    envelope_key = "strategies"
    not_found_message = selectors.NOT_FOUND
    filterset_class = StrategyFilter
    throttle_scope = "strategy_upload"
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]

    def get_permissions(self):
        if self.action in ("list", "retrieve"):
            return [AllowAny()]
        return [IsAuthenticated(), IsOwnerForWrites()]

    def get_throttles(self):
        if self.action == "create":
            return [ScopedRateThrottle()]
        return super().get_throttles()

    def get_queryset(self):
        if schema_generation(self):
            return Strategy.objects.none()
        if self.action in ("list", "retrieve"):
            queryset = selectors.strategy_visible_to(user=self.request.user)
            if self.action == "list":
                queryset = queryset.defer("strategy_code")
            return queryset.order_by("-created_at", "-id")
        return selectors.strategy_owned_by(user=self.request.user)

    def get_serializer_class(self):
        # By method, not action: the browsable API builds its forms with a cloned request.
        if self.request is not None and self.request.method in ("PUT", "PATCH"):
            return StrategyUpdateSerializer
        if self.request is not None and self.request.method == "POST":
            return StrategyInputSerializer
        return StrategyOutputSerializer

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "list": self.action == "list"}

    def browsable_extras(self, data: dict, request) -> dict:
        """The browsable API's page of one strategy: its source as code, and links to its
        executions (the author's) and backtests (anyone signed in may run one)."""
        strategy = data.get("strategy")
        if self.action != "retrieve" or not isinstance(strategy, dict):
            return {}
        base = f"/api/strategy-upload/strategies/{strategy['id']}"
        links = []
        if request.user.is_authenticated:
            if str(request.user.pk) == strategy.get("userId") or request.user.is_staff:
                links.append(("Executions", f"{base}/executions"))
            links.append(("Backtests", f"{base}/backtests"))
        return {
            "strategy_source": strategy.get("strategyCode"),
            "strategy_links": links,
        }

    def _answer(self, strategy, status_code=status.HTTP_200_OK) -> Response:
        output = StrategyOutputSerializer(strategy, context=self.get_serializer_context())
        return Response({"strategy": output.data}, status=status_code)

    def retrieve(self, request, *args, **kwargs):
        return self._answer(self.get_object())

    def create(self, request, *args, **kwargs):
        data = StrategyInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        strategy = services.strategy_create(user=request.user, **data.validated_data)
        return self._answer(strategy, status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        strategy = self.get_object()
        # PUT takes a partial body, as the original design does.
        data = StrategyUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        strategy = services.strategy_update(strategy=strategy, data=dict(data.validated_data))
        return self._answer(strategy)

    def destroy(self, request, *args, **kwargs):
        services.strategy_deactivate(strategy=self.get_object())
        return Response({"message": "Strategy deleted"})
