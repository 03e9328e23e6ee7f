import uuid

from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from strategies.selectors import NOT_FOUND as STRATEGY_NOT_FOUND
from tradeplatform.api import ApplicationError, NotFoundMessageMixin

from . import selectors, services
from .filters import SubscriptionFilter
from .serializers import (
    RiskSettingsSerializer,
    SubscribeInputSerializer,
    SubscriptionOutputSerializer,
    SubscriptionStatsSerializer,
)


def _subscription_body(subscription, message: str | None = None) -> dict:
    body = {"subscription": SubscriptionOutputSerializer(subscription).data}
    if message:
        body = {"message": message, **body}
    return body


class SubscribeView(APIView):
    """POST /api/strategies/:id/subscribe"""

    permission_classes = [IsAuthenticated]

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
        return selectors.subscription_list_for_user(user=self.request.user)

    def retrieve(self, request, *args, **kwargs):
        return Response(_subscription_body(self.get_object()))

    def update(self, request, *args, **kwargs):
        subscription = self.get_object()
        # PUT takes a partial body too; only the risk settings are read from it.
        data = RiskSettingsSerializer(data=request.data, partial=True)
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
