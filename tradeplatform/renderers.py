"""The camelCase JSON renderer, with the key conversion computed once per key.

djangorestframework-camel-case runs a regular-expression substitution on every key of every
row and rebuilds each dict as an OrderedDict: a page of 200 subscriptions spent about 10 ms
there (bench/bench_api.py). This renderer gives the same JSON: the same keys, the same
``JSON_UNDERSCOREIZE`` ``ignore_fields`` and ``ignore_keys``, plain dicts and lists, and
anything unusual (lazy strings, other iterables) handed to the library's own ``camelize``.
"""

import json
from datetime import date, datetime, time
from decimal import Decimal
from functools import lru_cache
from uuid import UUID

from django.http import Http404
from django.utils.encoding import force_str
from django.utils.functional import Promise
from djangorestframework_camel_case import util
from djangorestframework_camel_case.render import CamelCaseBrowsableAPIRenderer
from djangorestframework_camel_case.render import CamelCaseJSONRenderer as LibraryRenderer
from djangorestframework_camel_case.settings import api_settings as camel_settings
from rest_framework.exceptions import APIException
from rest_framework.request import override_method
from rest_framework.settings import api_settings

JSON_UNDERSCOREIZE = camel_settings.JSON_UNDERSCOREIZE
NOT_EDITABLE = object()

_AS_IS = (str, int, float, Decimal, type(None), datetime, date, time, UUID)


@lru_cache(maxsize=4096)
def camel_key(key: str) -> str:
    """`risk_per_trade` -> `riskPerTrade`, as the wire spells it."""
    return util.camelize_re.sub(util.underscore_to_camel, key) if "_" in key else key


def camelize(data, *, ignore_fields=(), ignore_keys=(), **options):
    """util.camelize, answer for answer, without its per-key regex and OrderedDicts."""
    ignore_fields = ignore_fields or ()
    ignore_keys = ignore_keys or ()

    def convert(value):
        if isinstance(value, dict):
            converted = {}
            for key, item in value.items():
                if isinstance(key, Promise):
                    key = force_str(key)
                new_key = camel_key(key) if isinstance(key, str) else key
                if key not in ignore_fields and new_key not in ignore_fields:
                    item = convert(item)
                if key in ignore_keys or new_key in ignore_keys:
                    converted[key] = item
                else:
                    converted[new_key] = item
            return converted
        if isinstance(value, (list, tuple)):
            return [convert(item) for item in value]
        if isinstance(value, _AS_IS):
            return value
        return util.camelize(value, ignore_fields=ignore_fields, ignore_keys=ignore_keys, **options)

    return convert(data)


class CamelCaseJSONRenderer(LibraryRenderer):
    def render(self, data, *args, **kwargs):
        # The grandparent: the library's render would camelize a second time.
        return super(LibraryRenderer, self).render(
            camelize(data, **self.json_underscoreize), *args, **kwargs
        )


class BrowsableAPIRenderer(CamelCaseBrowsableAPIRenderer):
    """The browsable API, made usable for uploading code:

    - after a refused POST/PUT/PATCH the form keeps what was sent, with the field errors
      (the error envelope replaces DRF's own answer, which the stock renderer needed);
    - the Raw data tab's template is camelCase JSON, as the wire is;
    - a view may add to the page through `browsable_extras(data, request)` (a strategy
      shows its source as code and links to its executions and backtests).
    """

    def get_rendered_html_form(self, data, view, method, request):
        refused = self._refused_input(data, view, method, request)
        instance = self._edited_instance(view, method, request)
        if instance is NOT_EDITABLE:
            return None
        if refused is None and instance is None:
            return super().get_rendered_html_form(data, view, method, request)
        with override_method(view, request, method) as request:
            if not self.show_form_for_method(view, method, request, instance):
                return None
            if refused is None:  # the edit form of a detail page: its stored values
                return self.render_form_for_serializer(view.get_serializer(instance=instance))
            serializer = view.get_serializer(instance=instance, data=request.data)
            serializer.is_valid()
            # The service's refusal (a syntax error, a taken code) on its field.
            serializer._errors = refused
            return self.render_form_for_serializer(serializer)

    @staticmethod
    def _edited_instance(view, method, request):
        """The object a PUT/PATCH form of a detail page edits (None on other pages;
        NOT_EDITABLE when the caller may not change it: no form then). The answers are
        envelopes (`{"strategy": {...}}`), not DRF's serializer data, so the stock renderer
        cannot find the object and would offer an empty form, even on someone else's."""
        if method not in ("PUT", "PATCH") or not hasattr(view, "get_object"):
            return None
        lookup = getattr(view, "lookup_url_kwarg", None) or getattr(view, "lookup_field", None)
        if lookup not in getattr(view, "kwargs", {}):
            return None
        # Here, not at the top: DRF's settings import this module while api.py loads.
        from tradeplatform.api import ApplicationError

        try:
            with override_method(view, request, method) as request:
                view.check_permissions(request)
                instance = view.get_object()
                view.check_object_permissions(request, instance)
        except (APIException, Http404, ApplicationError):
            return NOT_EDITABLE
        return instance

    def get_raw_data_form(self, data, view, method, request):
        if self._edited_instance(view, method, request) is NOT_EDITABLE:
            return None
        form = super().get_raw_data_form(data, view, method, request)
        if form is not None and self._refused_input(data, view, method, request) is not None:
            sent = request.data.dict() if hasattr(request.data, "dict") else request.data
            sent = camelize(sent, **JSON_UNDERSCOREIZE)
            form.initial["_content"] = json.dumps(sent, indent=4)
        return form

    def _refused_input(self, data, view, method, request) -> dict | None:
        """The field errors of this request when it was this method and was refused
        (`{}` when the refusal named no field), else None."""
        response = self.renderer_context.get("response") if self.renderer_context else None
        if (
            request.method != method
            or method not in ("POST", "PUT", "PATCH")
            or response is None
            or response.status_code < 400
            or not isinstance(data, dict)
            or "error" not in data
            or not hasattr(view, "get_serializer")
        ):
            return None
        details = data.get("details") or {}
        errors = {underscore_key(key): value for key, value in details.items()}
        return errors or {api_settings.NON_FIELD_ERRORS_KEY: [data["error"]]}

    def get_context(self, data, accepted_media_type, renderer_context):
        context = super().get_context(data, accepted_media_type, renderer_context)
        extras = getattr(renderer_context["view"], "browsable_extras", None)
        if extras is not None and isinstance(data, dict):
            context.update(extras(data, renderer_context["request"]))
        return context


def underscore_key(key: str) -> str:
    """`riskPerTrade` -> `risk_per_trade` (the serializers' names)."""
    return util.camel_to_underscore(key, **JSON_UNDERSCOREIZE)
