from rest_framework.routers import SimpleRouter

from .views import StrategyViewSet

# The SPA calls these paths without a trailing slash; one is accepted too.
router = SimpleRouter(trailing_slash="/?")
router.register("strategy-upload/strategies", StrategyViewSet, basename="strategy")

urlpatterns = router.urls
