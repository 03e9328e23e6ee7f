from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView

from tradeplatform.api import json_not_found, json_server_error
from tradeplatform.views import (
    LandingView,
    RedocView,
    StrategyGuideView,
    SwaggerView,
    health,
    redoc_bundle,
)

urlpatterns = [
    path("", LandingView.as_view(), name="landing"),
    re_path(r"^health/?$", health, name="health"),
    re_path(r"^docs/strategy-guide/?$", StrategyGuideView.as_view(), name="strategy-guide"),
    path("admin/", admin.site.urls),
    path("api-auth/", include("rest_framework.urls")),
    path("auth/", include("accounts.urls")),
    re_path(r"^api/schema/?$", SpectacularAPIView.as_view(), name="schema"),
    re_path(r"^api/docs/?$", SwaggerView.as_view(url_name="schema"), name="api-docs"),
    re_path(r"^api/redoc/?$", RedocView.as_view(url_name="schema"), name="api-redoc"),
    path("api/redoc/redoc.standalone.js", redoc_bundle, name="api-redoc-bundle"),
    # The original SPA's paths, first: its bulk-stats is not a subscription id.
    path("", include("tradeplatform.spa.urls")),
    path("api/", include("accounts.credential_urls")),
    path("api/", include("strategies.urls")),
    path("api/", include("executions.urls")),
    path("api/", include("backtests.urls")),
    path("api/", include("subscriptions.urls")),
    # Any other path under /api/ or /auth/ answers the JSON envelope's 404, DEBUG or not
    # (Django's debug page would be HTML).
    re_path(r"^(?:api|auth)(?:/.*)?$", json_not_found),
]

handler400 = "tradeplatform.api.json_bad_request"
handler404 = json_not_found
handler500 = json_server_error
