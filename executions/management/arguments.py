"""Parsing of the executions commands' arguments."""

from datetime import datetime

from django.core.management.base import CommandError


def aware_datetime(text: str, option: str) -> datetime:
    """`option`'s value as an ISO 8601 time with its zone (`Z` accepted), else CommandError."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise CommandError(f"{option} {text!r} is not an ISO 8601 time") from exc
    if moment.tzinfo is None:
        raise CommandError(f"{option} needs a time zone, e.g. 2026-01-15T15:00:00Z")
    return moment
