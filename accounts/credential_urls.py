from tradeplatform.api import OptionalSlashRouter

from .views import BrokerCredentialViewSet

router = OptionalSlashRouter()
router.register("broker-credentials", BrokerCredentialViewSet, basename="broker-credential")

urlpatterns = router.urls
