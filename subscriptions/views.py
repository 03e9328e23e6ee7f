import uuid

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.serializers import MessageSerializer
from strategies.selectors import NOT_FOUND as STRATEGY_NOT_FOUND
from tradeplatform.api import ApplicationError, NotFoundMessageMixin
from tradeplatform.schema import ErrorSerializer, answer, schema_generation, uuid_path

from . import selectors, services
from .filters import SubscriptionFilter
from .models import StrategySubscription
from .serializers import (
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
        parameters=[uuid_path("strategy_pk")],
        request=SubscribeInputSerializer,
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


@extend_schema_view(
    list=extend_schema(summary="The caller's subscriptions, newest first"),
    retrieve=extend_schema(summary="One subscription", responses=SUBSCRIPTION_ANSWER),
    update=extend_schema(
        summary="Change the risk settings or the broker credential (a partial body is accepted)",
        description=UPDATE_DESCRIPTION,
        request=SubscriptionUpdateSerializer,
        responses=SUBSCRIPTION_CHANGED,
    ),
    partial_update=extend_schema(
        summary="Change the risk settings or the broker credential",
        description=UPDATE_DESCRIPTION,
        request=SubscriptionUpdateSerializer,
        responses=SUBSCRIPTION_CHANGED,
    ),
    destroy=extend_schema(summary="Cancel (soft)", responses={200: MessageSerializer}),
    stats=extend_schema(
        summary="Trading figures of a subscription",
        responses=answer(
            "SubscriptionStatsAnswer",
            subscription=SubscriptionOutputSerializer(),
            stats=SubscriptionStatsSerializer(),
        ),
    ),
    pause=extend_schema(
        summary="Pause: no new trades until resumed",
        request=None,
        responses=MessageSerializer,
    ),
    resume=extend_schema(
        summary="Resume a paused subscription", request=None, responses=MessageSerializer
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
        services.subscription_cancel(subscription=self.get_object())
        return Response({"message": "Subscription cancelled"})

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
