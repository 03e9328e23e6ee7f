from functools import cache

from django.conf import settings
from django.http import JsonResponse
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


# The documentation pages may load nothing from outside: Redoc's bundle links its footer
# logo from cdn.redoc.ly, which this policy keeps the browser from fetching (the UIs run
# their init script inline and Redoc its workers from blob: URLs).
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
    """Redoc at /api/redoc/, from our own static files only."""
