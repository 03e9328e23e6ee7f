from django.urls import re_path

from .views import (
    BacktestDetailView,
    BacktestEquityChartView,
    BacktestListCreateView,
    BacktestTradesView,
)

BACKTESTS = r"^strategy-upload/strategies/(?P<strategy_pk>[^/.]+)/backtests"

# The SPA calls these paths without a trailing slash; one is accepted too.
urlpatterns = [
    re_path(rf"{BACKTESTS}/?$", BacktestListCreateView.as_view(), name="strategy-backtests"),
    re_path(
        rf"{BACKTESTS}/(?P<pk>[^/.]+)/?$", BacktestDetailView.as_view(), name="strategy-backtest"
    ),
    re_path(
        rf"{BACKTESTS}/(?P<pk>[^/.]+)/trades/?$",
        BacktestTradesView.as_view(),
        name="strategy-backtest-trades",
    ),
    re_path(
        rf"{BACKTESTS}/(?P<pk>[^/.]+)/equity\.svg$",
        BacktestEquityChartView.as_view(),
        name="strategy-backtest-equity",
    ),
]
