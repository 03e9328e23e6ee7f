from tradeplatform.api import OptionalSlashRouter

from .views import StrategyViewSet

router = OptionalSlashRouter()
router.register("strategy-upload/strategies", StrategyViewSet, basename="strategy")

urlpatterns = router.urls
