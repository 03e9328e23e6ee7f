"""The backtests of a strategy, under /api/strategy-upload/strategies/:id/backtests."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import generics, renderers, serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from strategies.models import Strategy
from subscriptions.risk import RISK_EXAMPLE
from tradeplatform.renderers import CamelCaseJSONRenderer
from tradeplatform.schema import answer, schema_generation, uuid_path

from . import selectors, services
from .charts import backtest_equity_svg
from .models import Backtest, BacktestTrade
from .serializers import (
    BacktestInputSerializer,
    BacktestListSerializer,
    BacktestSerializer,
    BacktestTradeSerializer,
)


class _BacktestMixin:
    """Under /api/strategy-upload/strategies/:id/backtests: the strategy must be one the
    caller may backtest (their own, or a public active one); the backtests are theirs."""

    permission_classes = [IsAuthenticated]

    def strategy(self) -> Strategy:
        return selectors.strategy_for_backtest(
            user=self.request.user, strategy_id=self.kwargs["strategy_pk"]
        )

    def backtest(self) -> Backtest:
        return selectors.backtest_get(
            user=self.request.user, strategy=self.strategy(), backtest_id=self.kwargs["pk"]
        )


BACKTEST_ANSWER = answer("BacktestAnswer", backtest=BacktestSerializer())


BACKTEST_EXAMPLE = OpenApiExample(
    "One week, 10,000 USDT, 1 percent a trade",
    value={
        "start": "2026-01-01T00:00:00Z",
        "end": "2026-01-08T00:00:00Z",
        **RISK_EXAMPLE,
        "feeRate": 0.0004,
        "slippage": 0.0005,
    },
    request_only=True,
)


@extend_schema_view(
    get=extend_schema(
        summary="The caller's backtests of a strategy, newest first",
        description="Only the caller's own backtests (each user sees theirs), without the "
        "heavy parts (equity curve, missing candles): GET one for those.",
    ),
    post=extend_schema(
        summary="Start a backtest (owner: any strategy; others: a public active one)",
        description="Replays the strategy over the candle closes from `start` to `end` "
        "with the engine's own sizing, stops and exits, the given risk settings (the "
        "subscription's rules) and costs (`feeRate` per fill, `slippage` against the "
        "trader). Answers 202 at once; poll GET …/backtests/:id for the status, progress "
        "and results. At most `BACKTEST_MAX_CANDLES` candles.",
        request=BacktestInputSerializer,
        examples=[BACKTEST_EXAMPLE],
        responses={
            202: answer(
                "BacktestQueuedAnswer",
                message=serializers.CharField(),
                backtest=BacktestSerializer(),
            )
        },
    ),
)
@extend_schema(parameters=[uuid_path("strategy_pk")])
class BacktestListCreateView(_BacktestMixin, generics.ListCreateAPIView):
    """GET: the caller's backtests of the strategy, newest first (paginated, `backtests`).
    POST: start one; 202 with its id, the replay runs as a Celery task."""

    envelope_key = "backtests"

    def get_serializer_class(self):
        if self.request is not None and self.request.method == "POST":
            return BacktestInputSerializer
        return BacktestListSerializer

    def get_queryset(self):
        if schema_generation(self):
            return Backtest.objects.none()
        return selectors.backtest_list(user=self.request.user, strategy=self.strategy())

    def post(self, request, *args, **kwargs):
        data = BacktestInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        backtest = services.backtest_create(
            user=request.user, strategy_id=self.kwargs["strategy_pk"], **data.validated_data
        )
        return Response(
            {"message": "Backtest queued", "backtest": BacktestSerializer(backtest).data},
            status=status.HTTP_202_ACCEPTED,
        )


@extend_schema(
    summary="A backtest: status, progress and, once done, metrics and equity curve",
    description="The caller's own backtest of the strategy (anyone else's is 404): QUEUED, "
    "RUNNING (with progress), COMPLETED (metrics, equity curve, missing candles) or FAILED "
    "(errorMessage).",
    parameters=[uuid_path("strategy_pk"), uuid_path("id")],
    responses=BACKTEST_ANSWER,
)
class BacktestDetailView(_BacktestMixin, generics.GenericAPIView):
    """GET …/backtests/:id: status, progress and, once done, the results."""

    serializer_class = BacktestSerializer

    def get(self, request, *args, **kwargs):
        return Response({"backtest": BacktestSerializer(self.backtest()).data})


@extend_schema(
    summary="A backtest's simulated trades, in the order they opened",
    description="Every position the replay opened, each closed by its stop-loss, "
    "take-profit, a signal, an EXIT or the end of the period (END), with fees and net PnL.",
    parameters=[uuid_path("strategy_pk"), uuid_path("id")],
)
class BacktestTradesView(_BacktestMixin, generics.ListAPIView):
    """GET …/backtests/:id/trades: the simulated trades in the order they opened."""

    serializer_class = BacktestTradeSerializer
    envelope_key = "trades"

    def get_queryset(self):
        if schema_generation(self):
            return BacktestTrade.objects.none()
        return BacktestTrade.objects.filter(backtest=self.backtest()).order_by("entry_time", "id")


class SVGRenderer(renderers.BaseRenderer):
    media_type = "image/svg+xml"
    format = "svg"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data.encode() if isinstance(data, str) else data


@extend_schema(
    summary="A backtest's equity curve as an SVG chart",
    description="The caller's own backtest (anyone else's is 404, as JSON): the equity "
    "after every candle, the starting capital dashed. An empty chart until it is done.",
    parameters=[uuid_path("strategy_pk"), uuid_path("id")],
    responses={(200, "image/svg+xml"): OpenApiTypes.STR},
)
class BacktestEquityChartView(_BacktestMixin, generics.GenericAPIView):
    """GET …/backtests/:id/equity.svg — the chart the admin shows, for the backtest's user."""

    renderer_classes = [SVGRenderer]

    def perform_content_negotiation(self, request, force=False):
        # An SVG whatever the Accept header (a browser's image request, an API client's).
        return super().perform_content_negotiation(request, force=True)

    def get(self, request, *args, **kwargs):
        return Response(backtest_equity_svg(self.backtest()), content_type="image/svg+xml")

    def handle_exception(self, exc):
        # Errors keep the JSON error envelope, whatever the chart's own content type.
        response = super().handle_exception(exc)
        request = self.request
        request.accepted_renderer = CamelCaseJSONRenderer()
        request.accepted_media_type = CamelCaseJSONRenderer.media_type
        return response
