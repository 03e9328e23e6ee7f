"""/api/marketplace and /api/marketplace/:id: the SPA's catalogue and strategy page.

The strategies anyone may subscribe to (public and active; a signed-in user also sees
their own active ones), with the figures the SPA shows: the track record of the
author's latest completed backtest (win rate and ROI in percent, max drawdown as a
fraction, as its pages print them), tags, the number of subscribers, whether the caller
is subscribed, and the minimum capital (`executionConfig.minMargin`)."""

from decimal import ROUND_HALF_EVEN, Decimal

from rest_framework import generics
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from backtests.metrics import metrics_from_json
from strategies.filters import StrategyFilter
from strategies.models import Strategy
from strategies.risk import RiskDefaultsSerializer
from strategies.selectors import NOT_FOUND, strategy_visible_to
from tradeplatform.api import ApplicationError

from . import selectors
from .base import OptionalJWTAuthentication

RATIO_STEP = Decimal("0.0001")


def _track_record(metrics: dict | None) -> dict:
    """Backtest metrics as the SPA's strategy figures; all None without a backtest."""
    if not metrics:
        return dict.fromkeys(
            ("win_rate", "roi", "risk_reward", "max_drawdown", "sharpe_ratio", "profit_factor")
        ) | {"total_trades": 0}
    average_loss = abs(metrics.get("average_loss") or 0)
    return {
        "win_rate": selectors.percent(metrics["winning_trades"], metrics["total_trades"]),
        "roi": metrics["total_return_pct"],
        "risk_reward": (
            (metrics["average_win"] / average_loss).quantize(
                selectors.PERCENT_STEP, ROUND_HALF_EVEN
            )
            if average_loss
            else None
        ),
        "max_drawdown": (Decimal(metrics["max_drawdown_pct"]) / 100).quantize(
            RATIO_STEP, ROUND_HALF_EVEN
        ),
        "sharpe_ratio": metrics.get("sharpe_ratio"),
        "profit_factor": metrics.get("profit_factor"),
        "total_trades": metrics["total_trades"],
    }


def catalogue_row(strategy: Strategy, *, user, subscribed: set) -> dict:
    config = strategy.execution_config
    risk = RiskDefaultsSerializer(strategy).data
    return {
        "id": strategy.id,
        "name": strategy.name,
        "code": strategy.code,
        "description": strategy.description,
        "author": strategy.author,
        "version": strategy.version,
        "tags": strategy.tags,
        "instrument": strategy.symbol,
        "supported_pairs": [strategy.symbol],
        "timeframes": [f"{strategy.resolution}m"],
        **_track_record(metrics_from_json(strategy.track_record)),
        "margin_required": strategy.min_capital,
        "subscriber_count": strategy.subscriber_count,
        "deployment_count": strategy.subscriber_count,
        "is_subscribed": strategy.id in subscribed,
        "is_active": strategy.is_active,
        "is_public": strategy.is_public,
        "is_marketplace": strategy.is_marketplace,
        "is_owned": bool(user and user.is_authenticated and strategy.user_id == user.pk),
        "access_status": None,
        "execution_config": {**config, "min_margin": strategy.min_capital},
        "risk_defaults": risk,
        "created_at": strategy.created_at,
        "updated_at": strategy.updated_at,
    }


class _CatalogueMixin:
    permission_classes = [AllowAny]
    authentication_classes = [OptionalJWTAuthentication]
    schema = None

    def strategies(self):
        return selectors.strategies_with_track_record(
            strategy_visible_to(user=self.request.user)
            .filter(is_active=True)
            .defer("strategy_code")
        )


class CatalogueView(_CatalogueMixin, generics.GenericAPIView):
    """`?search=&tags=&page=&limit=`; the most subscribed first, then the newest."""

    envelope_key = "strategies"
    filterset_class = StrategyFilter

    def get_queryset(self):
        return self.strategies().order_by("-subscriber_count", "-created_at", "-id")

    def get(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        subscribed = selectors.subscribed_strategy_ids(
            user=request.user, strategy_ids=[strategy.id for strategy in page]
        )
        return self.get_paginated_response(
            [catalogue_row(strategy, user=request.user, subscribed=subscribed) for strategy in page]
        )


def _backtest_answer(backtest) -> dict | None:
    """The latest backtest as the strategy page reads it: figures, the equity curve as
    {time, equity, drawdown} points, its trades (the newest BACKTEST_TRADES_SHOWN) and the
    net P&L by month."""
    if backtest is None:
        return None
    metrics = metrics_from_json(backtest.metrics) or {}
    peak, curve = None, []
    for moment, value in backtest.equity_curve:
        equity = Decimal(value)
        peak = equity if peak is None or equity > peak else peak
        curve.append({"time": moment, "equity": equity, "drawdown": peak - equity})
    trades = [
        {
            "index": number,
            "entry_time": trade.entry_time,
            "exit_time": trade.exit_time,
            "entry_date": trade.entry_time.date(),
            "exit_date": trade.exit_time.date() if trade.exit_time else None,
            "order_type": "market",
            "strike": trade.side.lower(),
            "action": trade.side.lower(),
            "quantity": trade.quantity,
            "entry_price": trade.entry_price,
            "exit_price": trade.exit_price,
            "profit_loss": trade.pnl,
            "charges": trade.fee,
            "remarks": trade.exit_reason,
        }
        for number, trade in enumerate(selectors.backtest_trades_shown(backtest=backtest), 1)
    ]
    return {
        "id": backtest.id,
        "start_date": backtest.start,
        "end_date": backtest.end,
        "initial_balance": metrics.get("initial_capital"),
        "final_balance": metrics.get("final_equity"),
        "total_return": metrics.get("total_return"),
        "total_return_pct": metrics.get("total_return_pct"),
        "max_drawdown": metrics.get("max_drawdown"),
        "max_drawdown_pct": metrics.get("max_drawdown_pct"),
        "sharpe_ratio": metrics.get("sharpe_ratio"),
        "win_rate": _track_record(metrics)["win_rate"] if metrics else None,
        "profit_factor": metrics.get("profit_factor"),
        "total_trades": metrics.get("total_trades", 0),
        "winning_trades": metrics.get("winning_trades", 0),
        "losing_trades": metrics.get("losing_trades", 0),
        "avg_trade": metrics.get("expectancy"),
        "total_charges": metrics.get("total_fees"),
        "monthly_returns": selectors.backtest_monthly_pnl(backtest=backtest),
        "equity_curve": curve,
        "trade_history": trades,
        "created_at": backtest.created_at,
    }


class CatalogueDetailView(_CatalogueMixin, generics.GenericAPIView):
    def get(self, request, pk):
        strategy = self.strategies().filter(pk=pk).first()
        if strategy is None:
            raise ApplicationError(NOT_FOUND, status_code=404)
        subscribed = selectors.subscribed_strategy_ids(user=request.user, strategy_ids=[pk])
        row = catalogue_row(strategy, user=request.user, subscribed=subscribed)
        row["latest_backtest"] = _backtest_answer(selectors.latest_backtest(strategy=strategy))
        return Response({"strategy": row})
