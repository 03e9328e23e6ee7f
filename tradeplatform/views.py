from functools import cache
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.http import HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from django.views.generic import TemplateView
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerView

from tradeplatform.health import health_report


class LandingView(TemplateView):
    template_name = "landing.html"


STRATEGY_GUIDE_URL = "/docs/strategy-guide"


@cache
def _guide_html() -> str:
    """docs/strategy-guide.md as HTML (CommonMark and tables; raw HTML in it is escaped)."""
    from markdown_it import MarkdownIt

    source = (settings.BASE_DIR / "docs" / "strategy-guide.md").read_text()
    return MarkdownIt("commonmark", {"html": False}).enable("table").render(source)


class StrategyGuideView(TemplateView):
    """The strategy author's guide, the repository's docs/strategy-guide.md, as a page."""

    template_name = "strategy_guide.html"

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "guide": _guide_html()}


@never_cache
@require_safe
def health(request):
    """200 `{status: "ok", services: {...}}` when every service is up; 503 naming the
    ones that are not."""
    healthy, report = health_report()
    return JsonResponse(report, status=200 if healthy else 503)


# The documentation pages load nothing from outside, and this policy keeps it so should a
# new bundle ask (the UIs run their init script inline and Redoc its workers from blob:
# URLs).
DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self' 'unsafe-inline' blob:; worker-src 'self' blob:; font-src 'self' data:; "
    "connect-src 'self'"
)


class _SelfOnlyDocsMixin:
    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Content-Security-Policy"] = DOCS_CONTENT_SECURITY_POLICY
        return response


class SwaggerView(_SelfOnlyDocsMixin, SpectacularSwaggerView):
    """Swagger UI at /api/docs/, from our own static files only."""


class RedocView(_SelfOnlyDocsMixin, SpectacularRedocView):
    """Redoc at /api/redoc/, from our own static files only; its bundle is `redoc_bundle`."""

    @staticmethod
    def _redoc_standalone() -> str:
        return reverse("api-redoc-bundle")


REDOC_BUNDLE = "drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"
# The one address Redoc's bundle fetches by itself: the logo in its side menu's footer.
REDOC_LOGO_URL = "https://cdn.redoc.ly/redoc/logo-mini.svg"


@cache
def _redoc_bundle_text() -> str:
    """drf-spectacular-sidecar's Redoc with its logo's address an empty `data:` URL: the
    image fails to decode, Redoc's own error handler drops it, and nothing is asked of
    cdn.redoc.ly."""
    bundle = Path(finders.find(REDOC_BUNDLE)).read_text(encoding="utf-8")
    return bundle.replace(REDOC_LOGO_URL, "data:,")


@require_safe
def redoc_bundle(request):
    response = HttpResponse(_redoc_bundle_text(), content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "public, max-age=86400"
    return response
