import uuid

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.serializers import MessageSerializer
from strategies.selectors import NOT_FOUND as STRATEGY_NOT_FOUND
from tradeplatform.api import ApplicationError, EnvelopePagination, NotFoundMessageMixin
from tradeplatform.schema import ErrorSerializer, answer, schema_generation, uuid_path

from . import selectors, services
from .filters import SubscriptionFilter
from .models import StrategySubscription
from .risk import RISK_EXAMPLE
from .serializers import (
    CancellationSerializer,
    KeepOpenTradesSerializer,
    SubscribeInputSerializer,
    SubscriptionOutputSerializer,
    SubscriptionStatsSerializer,
    SubscriptionUpdateSerializer,
)


def _subscription_body(subscription, message: str | None = None) -> dict:
    body = {"subscription": SubscriptionOutputSerializer(subscription).data}
    if message:
        body = {"message": message, **body}
    return body


SUBSCRIPTION_ANSWER = answer("SubscriptionAnswer", subscription=SubscriptionOutputSerializer())
SUBSCRIPTION_CHANGED = answer(
    "SubscriptionChangedAnswer",
    message=serializers.CharField(),
    subscription=SubscriptionOutputSerializer(),
)


SUBSCRIBE_EXAMPLE = OpenApiExample(
    "10,000 USDT, 1 percent a trade",
    value={**RISK_EXAMPLE, "brokerCredentialId": "3fa85f64-5717-4562-b3fc-2c963f66afa6"},
    request_only=True,
)
UPDATE_EXAMPLE = OpenApiExample("Halve the risk", value={"riskPerTrade": 0.005}, request_only=True)
UPDATE_DESCRIPTION = (
    "Only the risk settings and `brokerCredentialId` are writable; a body naming any other "
    "field (`strategyId`, a misspelt key, …) is a 400 that names it. `brokerCredentialId` "
    "moves the subscription to another active credential of the caller (someone else's "
    "answers 404), refused while the subscription has open trades. A cancelled "
    "subscription cannot be changed."
)


class SubscribeView(APIView):
    """POST /api/strategies/:id/subscribe"""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=["subscriptions"],
        summary="Subscribe to a strategy with capital and risk settings",
        description="Follow a strategy (the caller's own, or a public active one) with one of "
        "the caller's active broker credentials: from the next candle close, each of its "
        "BUY/SELL signals opens a trade sized so that a stop-out loses `capital x "
        "riskPerTrade`, within `leverage`, `maxPositions` and `maxDailyLoss`. Without a "
        "stop-loss in the signal, `slAtrMultiplier` x ATR(14) places it; with neither, that "
        "signal opens no trade for this subscription. One active subscription per strategy "
        "(409 otherwise); a missing or someone else's private strategy is 404; at most "
        "`MAX_SUBSCRIPTIONS_PER_USER` active or paused subscriptions (400).",
        parameters=[uuid_path("strategy_pk")],
        request=SubscribeInputSerializer,
        examples=[SUBSCRIBE_EXAMPLE],
        responses={
            201: SUBSCRIPTION_CHANGED,
            409: OpenApiResponse(
                ErrorSerializer, description="Already subscribed to this strategy"
            ),
        },
    )
    def post(self, request, strategy_pk):
        try:
            strategy_id = uuid.UUID(strategy_pk)
        except ValueError as exc:
            raise ApplicationError(STRATEGY_NOT_FOUND, status_code=404) from exc
        data = SubscribeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        subscription = services.subscription_create(
            user=request.user, strategy_id=strategy_id, **data.validated_data
        )
        subscription.open_trades = 0  # a new subscription has no trades yet
        return Response(
            _subscription_body(subscription, "Subscribed successfully"),
            status=status.HTTP_201_CREATED,
        )


class SubscriptionPagination(EnvelopePagination):
    """Without `limit`, a page holds at least every live (active or paused) subscription,
    which the list puts first: a client that reads one page sees everything it runs (at
    most MAX_SUBSCRIPTIONS_PER_USER, the quota), then the newest cancelled ones up to
    the default limit. An explicit `limit` is kept as given."""

    def paginate_queryset(self, queryset, request, view=None):
        self.live = None
        if request.query_params.get("limit", "") == "":
            self.live = queryset.filter(is_active=True).count()
        return super().paginate_queryset(queryset, request, view)

    def get_page_size(self, request):
        size = super().get_page_size(request)
        return max(size, getattr(self, "live", None) or 0)


@extend_schema_view(
    list=extend_schema(
        summary="The caller's subscriptions: active and paused first, then cancelled; "
        "newest first within each",
        description="Without `limit`, the page holds every active and paused subscription "
        "(bounded by the per-user quota), then cancelled ones up to the default limit. Each "
        "has its strategy's id, name and executionConfig, its risk settings and its trading "
        "figures; `?status=` narrows.",
    ),
    retrieve=extend_schema(
        summary="One subscription",
        description="The caller's own only; another user's answers 404.",
        responses=SUBSCRIPTION_ANSWER,
    ),
    update=extend_schema(
        summary="Change the risk settings or the broker credential (a partial body is accepted)",
        description=UPDATE_DESCRIPTION,
        request=SubscriptionUpdateSerializer,
        examples=[UPDATE_EXAMPLE],
        responses=SUBSCRIPTION_CHANGED,
    ),
    partial_update=extend_schema(
        summary="Change the risk settings or the broker credential",
        description=UPDATE_DESCRIPTION,
        request=SubscriptionUpdateSerializer,
        examples=[UPDATE_EXAMPLE],
        responses=SUBSCRIPTION_CHANGED,
    ),
    destroy=extend_schema(
        summary="Cancel (soft); its open trades close at the next candle close unless kept",
        description="No new trades from now on. Its open trades close at the next candle "
        "close, or follow the strategy until they close with `?keepOpenTrades=true`. The row "
        "stays (history); 400 when it is already cancelled.",
        parameters=[
            OpenApiParameter(
                "keepOpenTrades",
                bool,
                description="Keep the open trades following the strategy until they close",
            )
        ],
        responses={200: CancellationSerializer},
    ),
    stats=extend_schema(
        summary="Trading figures of a subscription",
        description="Trades, wins, losses, win rate (0-1), realised PnL and open trades.",
        responses=answer(
            "SubscriptionStatsAnswer",
            subscription=SubscriptionOutputSerializer(),
            stats=SubscriptionStatsSerializer(),
        ),
    ),
    pause=extend_schema(
        summary="Pause: no new trades until resumed",
        description="Open trades keep their stop-loss and take-profit; 400 when the "
        "subscription is already paused or cancelled.",
        request=None,
        responses=MessageSerializer,
    ),
    resume=extend_schema(
        summary="Resume a paused subscription",
        description="Signals open trades again from the next candle close; 400 when it is "
        "not paused.",
        request=None,
        responses=MessageSerializer,
    ),
)
class SubscriptionViewSet(
    NotFoundMessageMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """/api/strategies/subscriptions: the caller's own subscriptions only; another
    user's answers 404."""

    permission_classes = [IsAuthenticated]
    serializer_class = SubscriptionOutputSerializer
    pagination_class = SubscriptionPagination
    filterset_class = SubscriptionFilter
    envelope_key = "subscriptions"
    not_found_message = selectors.NOT_FOUND
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]

    def get_queryset(self):
        if schema_generation(self):
            return StrategySubscription.objects.none()
        return selectors.subscription_list_for_user(user=self.request.user)

    def retrieve(self, request, *args, **kwargs):
        return Response(_subscription_body(self.get_object()))

    def update(self, request, *args, **kwargs):
        subscription = self.get_object()
        # PUT takes a partial body too; a field it does not take is a 400 naming it.
        data = SubscriptionUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        subscription = services.subscription_update(
            subscription=subscription, data=dict(data.validated_data)
        )
        return Response(_subscription_body(subscription, "Subscription updated"))

    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, **kwargs)

    def destroy(self, request, *args, **kwargs):
        keep = KeepOpenTradesSerializer(data=request.query_params)
        keep.is_valid(raise_exception=True)
        cancellation = services.subscription_cancel(
            subscription=self.get_object(), keep_open_trades=keep.validated_data["keepOpenTrades"]
        )
        return Response(
            CancellationSerializer(
                {
                    "message": cancellation.message,
                    "open_trades": cancellation.open_trades,
                    "open_trades_kept": cancellation.kept,
                }
            ).data
        )

    @action(detail=True, methods=["get"])
    def stats(self, request, pk=None):
        subscription = self.get_object()
        return Response(
            {
                "subscription": SubscriptionOutputSerializer(subscription).data,
                "stats": SubscriptionStatsSerializer.for_subscription(subscription),
            }
        )

    @action(detail=True, methods=["post"])
    def pause(self, request, pk=None):
        services.subscription_pause(subscription=self.get_object())
        return Response({"message": "Subscription paused"})

    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        services.subscription_resume(subscription=self.get_object())
        return Response({"message": "Subscription resumed"})
