from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from django.views.generic import TemplateView

from tradeplatform.health import health_report


class LandingView(TemplateView):
    template_name = "landing.html"


@never_cache
@require_safe
def health(request):
    """200 `{status: "ok", services: {...}}` when every service is up; 503 naming the
    ones that are not."""
    healthy, report = health_report()
    return JsonResponse(report, status=200 if healthy else 503)
