from django.contrib import admin
from django.urls import include, path

from tradeplatform.api import json_not_found, json_server_error

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api-auth/", include("rest_framework.urls")),
    path("auth/", include("accounts.urls")),
    path("api/", include("accounts.credential_urls")),
    path("api/", include("strategies.urls")),
    path("api/", include("executions.urls")),
    path("api/", include("subscriptions.urls")),
]

handler400 = "tradeplatform.api.json_bad_request"
handler404 = json_not_found
handler500 = json_server_error
