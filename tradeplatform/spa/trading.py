"""The SPA's subscriptions page (bulk stats, equity curves) and positions page."""

from rest_framework import generics, serializers
from rest_framework.response import Response

from subscriptions.selectors import NOT_FOUND as SUBSCRIPTION_NOT_FOUND
from tradeplatform.api import ApplicationError, EnvelopePagination

from . import selectors, services
from .base import SpaView


class BulkStatsInputSerializer(serializers.Serializer):
    subscription_ids = serializers.ListField(
        child=serializers.UUIDField(), max_length=EnvelopePagination.max_page_size
    )


def _live_stats(figures: dict) -> dict:
    """The figures the subscriptions page sums per row (`liveStats`)."""
    stats = figures["stats"]
    return {
        "total_pnl": stats["net_pnl"],
        "realized_pnl": stats["net_pnl"],
        "total_trades": stats["total_trades"],
        "closed_trades": stats["total_trades"],
        "win_rate": stats["win_rate"],
        "open_positions": figures["open_positions"],
        "maxDD": stats["maxDD"],
        "total_fees": stats["total_fees"],
    }


class BulkStatsView(SpaView):
    """POST /api/strategies/subscriptions/bulk-stats {subscriptionIds}: a row per id
    that is one of the caller's subscriptions (others' ids are left out, as unknown)."""

    def post(self, request):
        data = BulkStatsInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        subscriptions = list(
            request.user.subscriptions.filter(id__in=data.validated_data["subscription_ids"])
        )
        figures = selectors.subscriptions_equity(subscriptions=subscriptions)
        rows = []
        for subscription in subscriptions:
            mine = figures[subscription.id]
            rows.append(
                {
                    "subscription_id": subscription.id,
                    "has_db_trades": bool(mine["equity_curve"] or mine["open_positions"]),
                    "stats": mine["stats"],
                    "live_stats": _live_stats(mine),
                    "equity_curve": mine["equity_curve"],
                }
            )
        return Response({"stats": rows})


class EquityCurveView(SpaView):
    """GET /api/strategies/subscriptions/:id/equity-curve (the owner's)."""

    def get(self, request, pk):
        subscription = request.user.subscriptions.filter(pk=pk).first()
        if subscription is None:
            raise ApplicationError(SUBSCRIPTION_NOT_FOUND, status_code=404)
        mine = selectors.subscriptions_equity(subscriptions=[subscription])[subscription.id]
        return Response(
            {
                "subscription_id": subscription.id,
                "equity_curve": mine["equity_curve"],
                "stats": mine["stats"],
            }
        )


class CurrentPositionsView(SpaView):
    def get(self, request):
        positions = selectors.positions_for_user(user=request.user)
        return Response(
            {
                "positions": positions,
                "summary": {
                    "total_positions": len(positions),
                    "total_unrealized_pnl": sum(p["unrealized_pnl"] for p in positions),
                    "total_margin_used": sum(p["margin_used"] for p in positions),
                    "active_strategies": len({p["strategy_id"] for p in positions}),
                },
            }
        )


class OrdersView(SpaView, generics.GenericAPIView):
    """The caller's order records, newest first: `?status=all|open|closed` (open: the
    exchange may still act on it; closed: final), `&symbol=&page=&limit=`."""

    envelope_key = "orders"

    def get(self, request):
        queryset = selectors.orders_for_user(
            user=request.user,
            status=request.query_params.get("status", ""),
            symbol=request.query_params.get("symbol", ""),
        )
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response([selectors.order_row(order) for order in page])


class PnlInputSerializer(serializers.Serializer):
    period = serializers.RegexField(
        r"^\d{1,3}d?$", required=False, default="30d", error_messages={"invalid": "Use 30d"}
    )

    def validate_period(self, value: str) -> int:
        days = int(value.rstrip("d"))
        if not 1 <= days <= 366:
            raise serializers.ValidationError("Period must be from 1 to 366 days")
        return days


class PnlView(SpaView):
    """`?period=30d` (days, 1-366)."""

    def get(self, request):
        data = PnlInputSerializer(data=request.query_params)
        data.is_valid(raise_exception=True)
        days = data.validated_data["period"]
        return Response(selectors.pnl_for_user(user=request.user, days=days))


class ClosePositionInputSerializer(serializers.Serializer):
    """The SPA also sends a `reason` ("Manual close"): the exit reason is EXIT."""

    position_id = serializers.UUIDField()


class ClosePositionView(SpaView):
    """POST /api/positions/close {positionId, reason}: closes one of the caller's open
    trades at the current price (`services.position_close`)."""

    def post(self, request):
        data = ClosePositionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        trade = services.position_close(
            user=request.user, position_id=data.validated_data["position_id"]
        )
        return Response(
            {
                "success": True,
                "message": "Position closing: a reduce-only market order is on its way",
                "position_id": trade.id,
                "exit_price": trade.exit_price,
                "pnl": trade.pnl,
            }
        )
