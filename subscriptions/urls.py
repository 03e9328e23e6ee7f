from django.urls import re_path
from rest_framework.routers import SimpleRouter

from .views import SubscribeView, SubscriptionViewSet

# The SPA calls these paths without a trailing slash; one is accepted too.
router = SimpleRouter(trailing_slash="/?")
router.register("strategies/subscriptions", SubscriptionViewSet, basename="subscription")

urlpatterns = [
    *router.urls,
    re_path(
        r"^strategies/(?P<strategy_pk>[^/.]+)/subscribe/?$",
        SubscribeView.as_view(),
        name="strategy-subscribe",
    ),
]
