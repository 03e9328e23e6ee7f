"""History views of the SPA: a subscription's trades and a strategy's executions. They
live here because only the executions app may import executions' models."""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import generics
from rest_framework.permissions import IsAuthenticated

from strategies.models import Strategy
from strategies.selectors import NOT_FOUND as STRATEGY_NOT_FOUND
from strategies.selectors import strategy_owned_by
from subscriptions.selectors import NOT_FOUND as SUBSCRIPTION_NOT_FOUND
from tradeplatform.api import ApplicationError

from .models import StrategyExecution, Trade
from .serializers import ExecutionSerializer, TradeSerializer


def _owned_or_404(queryset, pk, message: str) -> None:
    try:
        found = queryset.filter(pk=pk).exists()
    except DjangoValidationError:  # a malformed id
        found = False
    if not found:
        raise ApplicationError(message, status_code=404)


class SubscriptionTradesView(generics.ListAPIView):
    """GET /api/strategies/subscriptions/:id/trades — the owner's trades, newest first."""

    permission_classes = [IsAuthenticated]
    serializer_class = TradeSerializer
    envelope_key = "trades"

    def get_queryset(self):
        subscription_id = self.kwargs["subscription_pk"]
        _owned_or_404(
            self.request.user.subscriptions.all(), subscription_id, SUBSCRIPTION_NOT_FOUND
        )
        queryset = Trade.objects.filter(subscription_id=subscription_id)
        status = self.request.query_params.get("status", "").upper()
        if status in Trade.Status.values:
            queryset = queryset.filter(status=status)
        return queryset.order_by("-created_at", "-id")


class StrategyExecutionsView(generics.ListAPIView):
    """GET /api/strategy-upload/strategies/:id/executions — the author's run history."""

    permission_classes = [IsAuthenticated]
    serializer_class = ExecutionSerializer
    envelope_key = "executions"

    def get_queryset(self):
        strategy_id = self.kwargs["strategy_pk"]
        user = self.request.user
        owned = Strategy.objects.all() if user.is_staff else strategy_owned_by(user=user)
        _owned_or_404(owned, strategy_id, STRATEGY_NOT_FOUND)
        queryset = StrategyExecution.objects.filter(strategy_id=strategy_id).defer("execution_log")
        status = self.request.query_params.get("status", "").upper()
        if status in StrategyExecution.Status.values:
            queryset = queryset.filter(status=status)
        return queryset.order_by("-scheduled_time", "-id")
