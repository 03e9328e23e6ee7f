"""The wire conventions shared by every endpoint: the error envelope and the pagination
envelope of the wire contract (docs/architecture.md)."""

import logging
import math
import sys

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.core.paginator import Page
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from .renderers import camel_key

logger = logging.getLogger(__name__)

DATABASE_UNAVAILABLE = "Service unavailable: the database cannot be reached"
AUTHENTICATION_REQUIRED = "Authentication required"
SESSION_EXPIRED = "Your session has expired, please sign in again"


class ApplicationError(Exception):
    """A domain rule said no. Services raise it; the API answers `{"error": message}`."""

    def __init__(self, message: str, *, status_code: int = 400, details: dict | None = None):
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.details = details


def _first_message(detail) -> str:
    if isinstance(detail, dict):
        for value in detail.values():
            return _first_message(value)
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return str(detail)


def _first_field_error(detail, path: tuple[str, ...] = ()) -> tuple[tuple[str, ...], str] | None:
    """The path to the first field message of a (nested) DRF error detail, and the message."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            found = _first_field_error(value, (*path, str(key)))
            if found:
                return found
        return None
    if isinstance(detail, list):
        for index, item in enumerate(detail):
            if isinstance(item, dict):
                found = _first_field_error(item, (*path, str(index)))
            elif isinstance(item, list):
                found = _first_field_error(item, path)
            else:
                found = (path, str(item))
            if found:
                return found
        return None
    return (path, str(detail)) if path else None


# DRF's wording names "this field"; ours names the field itself.
_FIELD_PHRASES = (
    ("This field ", " "),
    ("This value ", " "),
    ("Ensure this value is ", " must be "),
    ("Ensure this value has ", " must have "),
    ("Ensure this field has ", " must have "),
)


def field_sentence(path: tuple[str, ...], message: str) -> str:
    """A field error as a sentence that names the field as the client spells it:
    `capital must be greater than 0`, `riskPerTrade is required`,
    `executionConfig.symbol: …`."""
    name = ".".join(camel_key(part) for part in path)
    message = message.strip()
    for phrase, joint in _FIELD_PHRASES:
        if message.startswith(phrase):
            return f"{name}{joint}{message[len(phrase) :]}".rstrip(".")
    label = path[-1].replace("_", " ")
    if message.lower().startswith(f"{label.lower()} "):
        return f"{name}{message[len(label) :]}".rstrip(".")
    return f"{name}: {message}"


def flat_details(detail, prefix: str = "") -> dict[str, list[str]]:
    """Field errors as `{field: [messages]}`, one level deep as the envelope promises: a
    nested field is named by its path (`risk_defaults.leverage`, `subscription_ids.0`)."""
    flat: dict[str, list[str]] = {}
    items = detail.items() if isinstance(detail, dict) else enumerate(detail)
    for key, value in items:
        name = f"{prefix}{key}"
        if isinstance(value, dict) or (
            isinstance(value, list) and any(isinstance(item, dict | list) for item in value)
        ):
            flat.update(flat_details(value, f"{name}."))
        else:
            flat[name] = [str(item) for item in value] if isinstance(value, list) else [str(value)]
    return flat


def error_body(message: str, details: dict | None = None) -> dict:
    body = {"error": message}
    if details:
        body["details"] = details
    return body


def exception_handler(exc, context):
    """Every error becomes `{"error": message}`, plus `details` for field errors."""
    if isinstance(exc, ApplicationError):
        return Response(error_body(exc.message, exc.details), status=exc.status_code)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) if str(exc) else None)
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, SuspiciousOperation):
        # Django's own guards on the request (body over DATA_UPLOAD_MAX_MEMORY_SIZE, too
        # many fields, ...), met when the parser reads the body: the client's fault.
        return Response(error_body(_suspicious_message(exc)), status=400)
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        if isinstance(detail, dict):
            non_field = detail.get("non_field_errors")
            details = {key: value for key, value in detail.items() if key != "non_field_errors"}
            first = _first_field_error(details)
            if non_field:
                message = _first_message(non_field)
            elif first:
                message = field_sentence(*first)
            else:
                message = "Invalid input"
            return Response(
                error_body(message, flat_details(details) or None), status=exc.status_code
            )
        return Response(error_body(_first_message(detail)), status=exc.status_code)
    if isinstance(exc, exceptions.NotAuthenticated):
        exc.detail = AUTHENTICATION_REQUIRED
    elif isinstance(exc, exceptions.AuthenticationFailed):
        # A forged, expired or revoked token (simplejwt's InvalidToken), or a token of a
        # user who is gone: the SPA sends the person back to its sign-in page.
        exc.detail = SESSION_EXPIRED
    if isinstance(exc, exceptions.APIException):
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None) is not None:
            headers["Retry-After"] = str(math.ceil(exc.wait))
        return Response(
            error_body(_first_message(exc.detail)), status=exc.status_code, headers=headers
        )
    if isinstance(exc, (OperationalError, InterfaceError)):
        logger.error("database unavailable: %s", type(exc).__name__)
        return Response(
            error_body(DATABASE_UNAVAILABLE), status=status.HTTP_503_SERVICE_UNAVAILABLE
        )
    if isinstance(exc, DatabaseError):
        logger.exception("database error")
        return Response(error_body("Internal server error"), status=500)
    logger.exception("unhandled error in %s", context.get("view").__class__.__name__)
    return Response(error_body("Internal server error"), status=500)


def _suspicious_message(exc: SuspiciousOperation) -> str:
    if isinstance(exc, RequestDataTooBig):
        return f"Request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes"
    return "Bad request"


def json_bad_request(request, exception=None):
    """handler400: Django's SuspiciousOperation outside DRF's views."""
    return JsonResponse(error_body(_suspicious_message(exception)), status=400)


def json_not_found(request, exception=None):
    return JsonResponse(error_body("Not found"), status=404)


def json_server_error(request):
    """handler500, for errors outside DRF's views (middleware, admin). Django calls it
    inside its `except` block, so the exception is at hand: a lost database answers 503
    like the API does, whichever layer met it first (session, auth, a view)."""
    exc = sys.exc_info()[1]
    if isinstance(exc, (OperationalError, InterfaceError)):
        logger.error("database unavailable: %s", type(exc).__name__)
        return JsonResponse(error_body(DATABASE_UNAVAILABLE), status=503)
    return JsonResponse(error_body("Internal server error"), status=500)


class EnvelopePagination(PageNumberPagination):
    """`?page=&limit=` (50 by default, at most 1000) answering
    `{<envelope_key>: [...], pagination: {page, limit, total, pages}}`; the view names
    the key with an `envelope_key` attribute.

    `page` and `limit` are whole numbers from 1 (anything else is a 400, where DRF would
    quietly use the default limit, or answer 404 "Invalid page"); a larger `limit` is
    capped at 1000; a page past the last answers an empty list, not an error."""

    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 1000

    @staticmethod
    def _whole_number(request, name: str, default: int) -> int:
        given = request.query_params.getlist(name)
        if not given or given == [""]:
            return default
        try:
            value = int(given[0]) if len(given) == 1 else 0  # `?page=1&page=2` is refused
        except ValueError:
            value = 0
        if value < 1:
            message = f"{name} must be a whole number of at least 1"
            raise ApplicationError(message, details={name: [message]})
        return value

    def get_page_size(self, request):
        return min(self._whole_number(request, "limit", self.page_size), self.max_page_size)

    def paginate_queryset(self, queryset, request, view=None):
        self.envelope_key = getattr(view, "envelope_key", "results")
        self.request = request
        paginator = self.django_paginator_class(queryset, self.get_page_size(request))
        number = self._whole_number(request, "page", 1)
        if number > paginator.num_pages:
            self.page = Page([], number, paginator)
        else:
            self.page = paginator.page(number)
        return list(self.page)

    def get_paginated_response(self, data):
        paginator = self.page.paginator
        return Response(
            {
                self.envelope_key: data,
                "pagination": {
                    "page": self.page.number,
                    "limit": paginator.per_page,
                    "total": paginator.count,
                    "pages": paginator.num_pages,
                },
            }
        )

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": "page",
                "required": False,
                "in": "query",
                "description": "Page number, from 1; past the last page the list is empty.",
                "schema": {"type": "integer", "minimum": 1, "default": 1},
            },
            {
                "name": "limit",
                "required": False,
                "in": "query",
                "description": f"Items per page, from 1; {self.max_page_size} at most "
                "(a larger value is capped).",
                "schema": {"type": "integer", "minimum": 1, "default": self.page_size},
            },
        ]

    def get_paginated_response_schema(self, schema):
        # The schema generator sets `envelope_key` from the view (tradeplatform.schema).
        key = getattr(self, "envelope_key", "results")
        return {
            "type": "object",
            "required": [key, "pagination"],
            "properties": {
                key: schema,
                "pagination": {
                    "type": "object",
                    "required": ["page", "limit", "total", "pages"],
                    "properties": {
                        name: {"type": "integer"} for name in ("page", "limit", "total", "pages")
                    },
                },
            },
        }


class NotFoundMessageMixin:
    """A view's `get_object()` answers `{"error": not_found_message}` with 404 for a
    missing object, someone else's object and a malformed id alike."""

    not_found_message = "Not found"

    def get_object(self):
        try:
            return super().get_object()
        except Http404 as exc:
            raise ApplicationError(self.not_found_message, status_code=404) from exc


class OptionalSlashRouter(SimpleRouter):
    """The SPA calls paths without a trailing slash; one is accepted too."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.trailing_slash = "/?"
