from django.urls import re_path

from tradeplatform.api import OptionalSlashRouter

from .views import SubscribeView, SubscriptionViewSet

router = OptionalSlashRouter()
router.register("strategies/subscriptions", SubscriptionViewSet, basename="subscription")

urlpatterns = [
    *router.urls,
    re_path(
        r"^strategies/(?P<strategy_pk>[^/.]+)/subscribe/?$",
        SubscribeView.as_view(),
        name="strategy-subscribe",
    ),
]
