from rest_framework.routers import SimpleRouter

from .views import BrokerCredentialViewSet

# Mounted under /api/; no trailing slash, as the SPA calls it (one is accepted too).
router = SimpleRouter(trailing_slash="/?")
router.register("broker-credentials", BrokerCredentialViewSet, basename="broker-credential")

urlpatterns = router.urls
