"""History views of the SPA: a subscription's trades and a strategy's executions. They
live here because only the executions app (and above) may import executions' models."""

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.permissions import IsAuthenticated

from strategies.models import Strategy
from strategies.selectors import NOT_FOUND as STRATEGY_NOT_FOUND
from strategies.selectors import strategy_owned_by
from subscriptions.selectors import NOT_FOUND as SUBSCRIPTION_NOT_FOUND
from tradeplatform.api import ApplicationError
from tradeplatform.schema import schema_generation, uuid_path

from . import selectors
from .models import Order, StrategyExecution, Trade
from .serializers import ExecutionSerializer, OrderSerializer, TradeSerializer


def _owned_or_404(queryset, pk, message: str) -> None:
    try:
        found = queryset.filter(pk=pk).exists()
    except DjangoValidationError:  # a malformed id
        found = False
    if not found:
        raise ApplicationError(message, status_code=404)


class _HistoryView(generics.ListAPIView):
    """A paginated history of one object the caller owns; `?status=` narrows it."""

    permission_classes = [IsAuthenticated]
    model: type[Trade] | type[StrategyExecution] | type[Order]
    ordering: tuple[str, ...]

    def owner_rows(self):
        """Rows of this history, after checking the parent object is the caller's."""
        raise NotImplementedError

    def get_queryset(self):
        if schema_generation(self):
            return self.model.objects.none()
        queryset = self.owner_rows()
        wanted = self.request.query_params.get("status", "").strip().upper()
        if wanted:
            if wanted not in self.model.Status.values:
                allowed = ", ".join(self.model.Status.values)
                message = f"status must be one of {allowed}"
                raise ApplicationError(message, details={"status": [message]})
            queryset = queryset.filter(status=wanted)
        return queryset.order_by(*self.ordering)


def _status_parameter(model) -> OpenApiParameter:
    return OpenApiParameter(
        "status",
        str,
        OpenApiParameter.QUERY,
        enum=list(model.Status.values),
        allow_blank=True,
        description="Only the rows in this status (case-insensitive; empty: all). Another "
        "value is a 400.",
    )


@extend_schema(
    summary="A subscription's trades, newest first (owner); ?status=OPEN|CLOSED",
    description="The caller's own subscription only (another's answers 404). Quantities, "
    "prices and PnL as stored; `exitReason` is null while the trade is open.",
    parameters=[uuid_path("subscription_pk"), _status_parameter(Trade)],
)
class SubscriptionTradesView(_HistoryView):
    """GET /api/strategies/subscriptions/:id/trades — the owner's trades, newest first."""

    serializer_class = TradeSerializer
    envelope_key = "trades"
    model = Trade
    ordering = ("-created_at", "-id")

    def owner_rows(self):
        subscription_id = self.kwargs["subscription_pk"]
        mine = self.request.user.subscriptions.all()
        _owned_or_404(mine, subscription_id, SUBSCRIPTION_NOT_FOUND)
        return Trade.objects.filter(subscription_id=subscription_id)


@extend_schema(
    summary="A strategy's executions, newest first (author, staff); ?status=",
    description="One row per candle close the strategy ran for: its status, signal, how "
    "many subscriptions it served and trades it opened, the error of a FAILED run, what the "
    "strategy printed (`output`) and the engine's notes (`engineNotes`: trades opened and "
    'closed, and per reason how many subscriptions got no trade, e.g. "no stop-loss: the '
    "signal has none and slAtrMultiplier is unset\"). Only the strategy's author (and "
    "staff) may read it; anyone else gets 404.",
    parameters=[uuid_path("strategy_pk"), _status_parameter(StrategyExecution)],
)
class StrategyExecutionsView(_HistoryView):
    """GET /api/strategy-upload/strategies/:id/executions — the author's run history
    (staff may read any)."""

    serializer_class = ExecutionSerializer
    envelope_key = "executions"
    model = StrategyExecution
    ordering = ("-candle_close", "-id")

    def owner_rows(self):
        strategy_id = self.kwargs["strategy_pk"]
        user = self.request.user
        owned = Strategy.objects.all() if user.is_staff else strategy_owned_by(user=user)
        _owned_or_404(owned, strategy_id, STRATEGY_NOT_FOUND)
        return StrategyExecution.objects.filter(strategy_id=strategy_id)

    def get_serializer_context(self):
        # owner_rows() has checked the caller is the strategy's author (or staff).
        return {**super().get_serializer_context(), "author_view": True}


@extend_schema(
    summary="The caller's orders, newest first; ?status=, ?tradeId=, ?subscriptionId=",
)
class OrdersView(_HistoryView):
    """GET /api/orders — every exchange action of the caller's trades (entries,
    protections, exits) with its fills, fee and last error; their own only."""

    serializer_class = OrderSerializer
    envelope_key = "orders"
    model = Order
    ordering = ("-created_at", "-id")

    def owner_rows(self):
        return selectors.orders_of_user(
            user=self.request.user,
            trade_id=self.request.query_params.get("tradeId"),
            subscription_id=self.request.query_params.get("subscriptionId"),
        )
