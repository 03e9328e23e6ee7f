from django.urls import re_path

from .views import OrdersView, StrategyExecutionsView, SubscriptionTradesView

# The SPA calls these paths without a trailing slash; one is accepted too.
urlpatterns = [
    re_path(r"^orders/?$", OrdersView.as_view(), name="order-list"),
    re_path(
        r"^strategies/subscriptions/(?P<subscription_pk>[^/.]+)/trades/?$",
        SubscriptionTradesView.as_view(),
        name="subscription-trades",
    ),
    re_path(
        r"^strategy-upload/strategies/(?P<strategy_pk>[^/.]+)/executions/?$",
        StrategyExecutionsView.as_view(),
        name="strategy-executions",
    ),
]
