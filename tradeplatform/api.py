"""The wire conventions shared by every endpoint: the error envelope and the pagination
envelope of ../shared/DESIGN.md."""

import logging
import math

from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

logger = logging.getLogger(__name__)


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
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        if isinstance(detail, dict):
            non_field = detail.get("non_field_errors")
            message = _first_message(non_field) if non_field else "Invalid input"
            details = {key: value for key, value in detail.items() if key != "non_field_errors"}
            return Response(error_body(message, details or None), status=exc.status_code)
        return Response(error_body(_first_message(detail)), status=exc.status_code)
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
            error_body("Service unavailable: the database cannot be reached"),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
    if isinstance(exc, DatabaseError):
        logger.exception("database error")
        return Response(error_body("Internal server error"), status=500)
    logger.exception("unhandled error in %s", context.get("view").__class__.__name__)
    return Response(error_body("Internal server error"), status=500)


def json_not_found(request, exception=None):
    return JsonResponse(error_body("Not found"), status=404)


def json_server_error(request):
    return JsonResponse(error_body("Internal server error"), status=500)


class EnvelopePagination(PageNumberPagination):
    """`?page=&limit=` (50 by default, at most 1000) answering
    `{<envelope_key>: [...], pagination: {page, limit, total, pages}}`; the view names
    the key with an `envelope_key` attribute."""

    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 1000

    def paginate_queryset(self, queryset, request, view=None):
        self.envelope_key = getattr(view, "envelope_key", "results")
        return super().paginate_queryset(queryset, request, view)

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
