"""The operators' admin site: the platform's own sections first, the frameworks' (Celery
Beat's schedules, JWT blacklist, django-axes' login attempts, auth groups) after them
under a "Framework:" prefix, so they stay out of the operator's way while still reachable
(axes' attempts are where a locked-out login is lifted)."""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig

PLATFORM_APPS = ("accounts", "strategies", "subscriptions", "marketdata", "executions", "backtests")


class PlatformAdminSite(admin.AdminSite):
    site_header = "tradeplatform operations"
    site_title = "tradeplatform admin"
    # The lists need the width (a 1400 px screen shows every column); the index and the
    # breadcrumbs lead everywhere the sidebar did.
    enable_nav_sidebar = False

    def get_app_list(self, request, app_label=None):
        apps = super().get_app_list(request, app_label)
        ours = [app for app in apps if app["app_label"] in PLATFORM_APPS]
        ours.sort(key=lambda app: PLATFORM_APPS.index(app["app_label"]))
        frameworks = [app for app in apps if app["app_label"] not in PLATFORM_APPS]
        for app in frameworks:
            app["name"] = f"Framework: {app['name']}"
        return ours + frameworks


class PlatformAdminConfig(AdminConfig):
    default_site = "tradeplatform.admin_site.PlatformAdminSite"
