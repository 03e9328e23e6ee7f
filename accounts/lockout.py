"""django-axes hooks: lockout after repeated failed logins, keyed on the email.

The API login view learns of a lockout from `request.axes_locked_out` (see
`services.user_login`); these hooks serve every other `authenticate()` caller, such as the
admin login form, through `axes.middleware.AxesMiddleware`.
"""

from django.http import JsonResponse

from tradeplatform.api import error_body

LOCKOUT_MESSAGE = "Too many failed login attempts: this account is locked for {minutes} minutes"


def lockout_message() -> str:
    from axes.helpers import get_cool_off

    minutes = int(get_cool_off().total_seconds() // 60)
    return LOCKOUT_MESSAGE.format(minutes=minutes)


def username_from_request(request, credentials: dict | None) -> str | None:
    """The email as the lockout key, normalized so that case or spaces do not reset it."""
    source = credentials if credentials is not None else getattr(request, "data", request.POST)
    # The API sends `email`; Django's own forms (the admin) send the email as `username`.
    email = (source.get("email") or source.get("username")) if source else None
    if not isinstance(email, str):
        return None
    return email.strip().lower() or None


def lockout_response(request, original_response=None, credentials=None) -> JsonResponse:
    return JsonResponse(error_body(lockout_message()), status=429)
